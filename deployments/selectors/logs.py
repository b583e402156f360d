"""Reads of what the log collector stored: where a container's lines belong, checkpoints, drop counts."""

from dataclasses import dataclass

from deployments.models import App, LogCheckpoint, LogDrop


@dataclass(frozen=True)
class LogTarget:
    """The tenant and app a container's labels name, as ids and slugs."""

    tenant_id: int
    tenant: str
    app_id: int
    app: str


def log_target_resolve(*, tenant_slug: str, app_slug: str) -> LogTarget | None:
    """Return where a container's lines belong, or None when its labels name no known app."""
    app = App.objects.select_related("tenant").filter(tenant__slug=tenant_slug, slug=app_slug).first()
    if app is None:
        return None
    return LogTarget(tenant_id=app.tenant_id, tenant=app.tenant.slug, app_id=app.pk, app=app.slug)


def log_dropped_count(*, app: App) -> int:
    """How many of the app's lines the collector had to drop (sink unreachable past the buffer's bound)."""
    return LogDrop.objects.filter(app=app).values_list("dropped", flat=True).first() or 0


def log_checkpoint_get(*, host: str, container: str, stream: str) -> tuple[int, int]:
    """Return (timestamp_ns, count_at_timestamp) of what is stored of a container's stream; (0, 0) for none."""
    found = (
        LogCheckpoint.objects.filter(host=host, container=container, stream=stream)
        .values_list("timestamp_ns", "count_at_timestamp")
        .first()
    )
    return found or (0, 0)
