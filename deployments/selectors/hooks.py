"""Reads of webhooks, deliveries, drains, one-off runs and a tenant's log sink, always through the tenant."""

from django.db.models import QuerySet

from deployments.models import App, Delivery, Drain, LogSink, Run, Webhook
from portal.errors import NotFound
from tenants.models import Tenant


def webhook_list(*, tenant: Tenant) -> QuerySet[Webhook]:
    return Webhook.objects.filter(tenant=tenant)


def _pk(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("No such object.") from None


def webhook_get(*, tenant: Tenant, pk) -> Webhook:
    webhook = Webhook.objects.filter(tenant=tenant, pk=_pk(pk)).first()
    if webhook is None:
        raise NotFound(f"No webhook {pk} in this tenant.")
    return webhook


def delivery_list(*, webhook: Webhook) -> QuerySet[Delivery]:
    return Delivery.objects.filter(tenant_id=webhook.tenant_id, webhook=webhook)


def delivery_get(*, webhook: Webhook, pk) -> Delivery:
    delivery = (
        Delivery.objects.select_related("tenant")
        .filter(tenant_id=webhook.tenant_id, webhook=webhook, pk=_pk(pk))
        .first()
    )
    if delivery is None:
        raise NotFound(f"No delivery {pk} of this webhook.")
    return delivery


def drain_list(*, app: App) -> QuerySet[Drain]:
    return Drain.objects.filter(tenant_id=app.tenant_id, app=app)


def drain_get(*, app: App, pk) -> Drain:
    drain = Drain.objects.filter(tenant_id=app.tenant_id, app=app, pk=_pk(pk)).first()
    if drain is None:
        raise NotFound(f"No drain {pk} on this app.")
    return drain


def log_sink_of(*, tenant: Tenant) -> LogSink | None:
    """The tenant's sink row; None means the database."""
    return LogSink.objects.filter(tenant=tenant).first()


def run_list(*, app: App) -> QuerySet[Run]:
    return Run.objects.filter(tenant_id=app.tenant_id, app=app).select_related("release", "created_by")


def run_get(*, app: App, number) -> Run:
    run = run_list(app=app).filter(number=_pk(number)).first()
    if run is None:
        raise NotFound(f"No run {number} of this app.")
    return run
