"""The collector's side of the log store: which sink a tenant's lines go to, how far each stream is stored, what was
dropped, retention, and reading lines back.

It imports no service, so the collector, the consumer and the services all build on it.
"""

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from deployments.engine.client import LOCAL_ENGINE, EngineSpec
from deployments.logs.records import make_cursor
from deployments.logs.sinks import DatabaseSink, LogQuery, OpenSearchSink, SinkUnavailable, sink_for
from deployments.models import App, DockerHost, Drain, LogCheckpoint, LogDrop, LogSink
from deployments.selectors.hosts import host_spec
from portal.errors import NotFound
from tenants.models import Tenant

MAX_PAGE = 1000


def log_sink_get(*, tenant_id: int):
    """Return the sink object a tenant's lines go to."""
    tenant = Tenant.objects.get(pk=tenant_id)
    return sink_for(tenant=tenant, sink=LogSink.objects.filter(tenant=tenant).first())


def log_search(
    *,
    tenant: Tenant,
    app: App,
    q: str = "",
    process: str = "",
    release: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str = "",
    before: str = "",
    limit: int = 100,
) -> list[dict]:
    """Return an app's lines in cursor order: after `after` the oldest, otherwise the newest `limit` matching."""
    if app.tenant_id != tenant.pk:
        raise NotFound()
    query = LogQuery(
        app_id=app.pk,
        q=q,
        process=process,
        release=release,
        since=since,
        until=until,
        after=after,
        before=before,
        limit=max(1, min(limit, MAX_PAGE)),
    )
    # The tenant is at hand: its sink row is the only read left before the search.
    return sink_for(tenant=tenant, sink=LogSink.objects.filter(tenant=tenant).first()).search(query)


def log_export(
    *, tenant: Tenant, app: App, since: datetime | None = None, max_lines: int = 100_000, **filters
) -> Iterator[dict]:
    """Yield an app's matching lines oldest first, a page at a time, at most `max_lines` (a download's range).

    `filters` are log_search's: q, process, release, until.
    """
    # A cursor below every line of `since` (or of all time): the sinks then read forward from there.
    after = make_cursor(int(since.timestamp() * 1e9) if since else 0, "", "stdout", 0)
    sent = 0
    while sent < max_lines:
        limit = min(MAX_PAGE, max_lines - sent)
        page = log_search(tenant=tenant, app=app, since=since, after=after, limit=limit, **filters)
        yield from page
        sent += len(page)
        if len(page) < limit:
            return
        after = page[-1]["cursor"]


def log_hosts() -> list[EngineSpec]:
    """Return the engines to collect from: every registered host, or the local engine when none is registered."""
    return [host_spec(host) for host in DockerHost.objects.order_by("name")] or [LOCAL_ENGINE]


def log_checkpoints_save(*, host: str, positions: dict[tuple[str, str], tuple[int, int, int, int]]) -> None:
    """Record how far each (container, stream) is stored: {key: (tenant_id, app_id, timestamp_ns, count)}.

    Called inside the database sink's transaction, so lines and checkpoint commit together.
    """
    now = timezone.now()
    for (container, stream), (tenant_id, app_id, timestamp_ns, count) in positions.items():
        LogCheckpoint.objects.update_or_create(
            host=host,
            container=container,
            stream=stream,
            defaults={
                "tenant_id": tenant_id,
                "app_id": app_id,
                "timestamp_ns": timestamp_ns,
                "count_at_timestamp": count,
                "updated_at": now,
            },
        )


@transaction.atomic
def log_drops_record(*, counts: dict[int, tuple[int, int]]) -> None:
    """Add dropped lines to each app's counter: {app_id: (tenant_id, how_many)}."""
    now = timezone.now()
    for app_id, (tenant_id, dropped) in counts.items():
        if not App.objects.filter(pk=app_id).exists():
            continue
        drop, created = LogDrop.objects.select_for_update().get_or_create(
            app_id=app_id, defaults={"tenant_id": tenant_id, "dropped": dropped, "last_dropped_at": now}
        )
        if not created:
            LogDrop.objects.filter(pk=drop.pk).update(dropped=F("dropped") + dropped, last_dropped_at=now)


def log_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Apply every tenant's retention: delete old database lines, drop old OpenSearch indices.

    Returns {tenant slug: lines or indices removed}. An unreachable OpenSearch is skipped until the next run.
    """
    removed: dict[str, int] = {}
    default_days = LogSink._meta.get_field("retention_days").default
    sinks = {sink.tenant_id: sink for sink in LogSink.objects.all()}
    for tenant in Tenant.objects.order_by("slug"):
        sink_row = sinks.get(tenant.pk)
        days = sink_row.retention_days if sink_row else default_days
        sink = sink_for(tenant=tenant, sink=sink_row)
        count = DatabaseSink().prune(
            tenant_id=tenant.pk, retention_days=days, max_lines_per_app=settings.BERTH_LOG_DB_MAX_LINES_PER_APP
        )
        if isinstance(sink, OpenSearchSink):
            with suppress(SinkUnavailable):
                count += len(sink.prune(retention_days=days, today=now))
        if count:
            removed[tenant.slug] = count
    return removed


# Drains: what the collector forwards to, and what each drain delivered and dropped


@dataclass(frozen=True)
class DrainSpec:
    """What the collector needs to forward to one drain."""

    id: int
    url: str
    ca_certificate: str


def drain_specs(*, app_id: int) -> list[DrainSpec]:
    """The drains of an app, as the collector forwards to them."""
    rows = Drain.objects.filter(app_id=app_id).values_list("id", "url", "ca_certificate")
    return [DrainSpec(id=pk, url=url, ca_certificate=ca) for pk, url, ca in rows]


def drain_counts_record(*, drain_id: int, delivered: int, dropped: int, error: str | None) -> None:
    """Add to a drain's counters what its sender did since the last call (`error`: None leaves it as it is)."""
    changes = {"delivered": F("delivered") + delivered, "dropped": F("dropped") + dropped}
    if error is not None:
        changes["last_error"] = error[:500]
    Drain.objects.filter(pk=drain_id).update(**changes)
