"""Webhooks: a tenant's subscriptions to events, each event delivered signed, retried with growing delays.

An event is emitted by the service where it happens (`webhook_emit`), inside that service's transaction; after the
commit a task fans it out into one Delivery per subscribed webhook, and a task per delivery POSTs it. A failed
attempt records what happened and schedules the next (attempt n+1 after base * 2**(n-1) seconds) until
BERTH_WEBHOOK_MAX_ATTEMPTS. The body is the same for every attempt of an event; the signature covers
`<X-Berth-Timestamp>.<body>` so a receiver can refuse a replayed old request.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deployments import crypto
from deployments.models import Delivery, DeliveryStatus, Webhook
from deployments.outbound import http_post, outbound_target
from deployments.services.queue import task_enqueue
from portal.errors import Invalid
from tenants.audit import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)

EVENTS = (
    "app.created",
    "app.deleted",
    "build.succeeded",
    "build.failed",
    "release.succeeded",
    "release.failed",
)
SCHEMES = {"https": 443, "http": 80}
EXCERPT = 1000


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise Invalid(
            f"Unknown events: {', '.join(unknown)}." if unknown else "Name at least one event.",
            fields={"events": [f"Choose among {', '.join(EVENTS)}."]},
        )
    return sorted(set(events))


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` with the webhook's secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@transaction.atomic
def webhook_create(*, tenant: Tenant, url: str, events: list[str], actor) -> tuple[Webhook, str]:
    """Subscribe `url` to `events`; return the webhook and its secret, which is never shown again."""
    outbound_target(url, schemes=SCHEMES)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    webhook = Webhook(tenant=tenant, url=url, events=_check_events(events), secret=crypto.encrypt(secret))
    webhook.created_by = actor
    webhook.full_clean()
    webhook.save()
    audit_record(
        actor=actor, tenant=tenant, action="webhook.create", target=webhook, diff={"url": url, "events": events}
    )
    return webhook, secret


@transaction.atomic
def webhook_update(
    *, webhook: Webhook, actor, url: str | None = None, events: list[str] | None = None, active: bool | None = None
) -> Webhook:
    diff = {}
    if url is not None and url != webhook.url:
        outbound_target(url, schemes=SCHEMES)
        diff["url"] = [webhook.url, url]
        webhook.url = url
    if events is not None:
        events = _check_events(events)
        if events != webhook.events:
            diff["events"] = [webhook.events, events]
            webhook.events = events
    if active is not None and active != webhook.active:
        diff["active"] = [webhook.active, active]
        webhook.active = active
    if not diff:
        return webhook
    webhook.updated_at = timezone.now()
    webhook.full_clean()
    webhook.save()
    audit_record(actor=actor, tenant=webhook.tenant, action="webhook.update", target=webhook, diff=diff)
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook, actor) -> None:
    audit_record(actor=actor, tenant=webhook.tenant, action="webhook.delete", target=webhook, diff={"url": webhook.url})
    webhook.delete()


def webhook_emit(*, tenant_id: int, event: str, data: dict) -> None:
    """Announce `event` of a tenant: once the caller's transaction commits, it goes to every subscribed webhook."""
    assert event in EVENTS, event
    payload = {
        "id": str(uuid.uuid4()),
        "event": event,
        "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": data,
    }

    def enqueue():
        try:
            task_enqueue("webhook_fanout_run", tenant_id=tenant_id, payload=payload)
        except Exception:
            # An event must never fail the change it announces.
            logger.exception("could not queue webhook event %s of tenant %s", event, tenant_id)

    transaction.on_commit(enqueue)


def webhook_fanout(*, tenant_id: int, payload: dict) -> list[Delivery]:
    """Create one pending delivery of `payload` per active webhook of the tenant subscribed to its event."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return []
    payload = {**payload, "tenant": tenant.slug}
    deliveries = []
    with transaction.atomic():
        for webhook in Webhook.objects.filter(tenant=tenant, active=True):
            if payload["event"] in webhook.events:
                deliveries.append(
                    Delivery.objects.create(
                        tenant=tenant,
                        webhook=webhook,
                        event=payload["event"],
                        event_id=payload["id"],
                        payload=payload,
                    )
                )
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: _enqueue_attempt(delivery_id=pk, delay=0))
    return deliveries


def _enqueue_attempt(*, delivery_id: int, delay: float) -> None:
    task_enqueue("delivery_attempt_run", delivery_id=delivery_id, delay=delay)


def retry_delay(attempt: int) -> float:
    """Seconds to wait before the attempt after `attempt` (1, 2, ...): the base, doubled each time."""
    return settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """POST a pending delivery once and record how it went; schedule the next attempt when it failed."""
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery
    webhook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Berth-Webhooks/1",
        "X-Berth-Event": delivery.event,
        "X-Berth-Delivery": str(delivery.pk),
        "X-Berth-Event-Id": str(delivery.event_id),
        "X-Berth-Timestamp": timestamp,
        "X-Berth-Signature": signature(secret=crypto.decrypt(webhook.secret), timestamp=timestamp, body=body),
    }
    code, excerpt, error = None, "", ""
    started = time.monotonic()
    try:
        # Checked again now: the name may resolve elsewhere than when the webhook was saved.
        target = outbound_target(webhook.url, schemes=SCHEMES)
        code, answer = http_post(target, body=body, headers=headers, timeout=settings.BERTH_WEBHOOK_TIMEOUT)
        excerpt = answer[:EXCERPT].decode("utf-8", "replace")
        if not 200 <= code < 300:
            error = f"The receiver answered {code}."
    except Invalid as exc:
        error = exc.message
    except (OSError, ValueError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status != DeliveryStatus.PENDING:
            return delivery  # another worker ran it meanwhile
        delivery.status = DeliveryStatus.FAILED if error else DeliveryStatus.SUCCEEDED
        delivery.response_code = code
        delivery.response_excerpt = excerpt
        delivery.error = error
        delivery.duration_ms = duration_ms
        delivery.finished_at = timezone.now()
        delivery.save()
        if error and delivery.attempt < settings.BERTH_WEBHOOK_MAX_ATTEMPTS:
            delay = retry_delay(delivery.attempt)
            following = Delivery.objects.create(
                tenant_id=delivery.tenant_id,
                webhook_id=delivery.webhook_id,
                event=delivery.event,
                event_id=delivery.event_id,
                payload=delivery.payload,
                attempt=delivery.attempt + 1,
                redelivery_of=delivery.redelivery_of,
                scheduled_at=timezone.now() + timedelta(seconds=delay),
            )
            transaction.on_commit(lambda: _enqueue_attempt(delivery_id=following.pk, delay=delay))
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, actor) -> Delivery:
    """Send an earlier delivery's event again, as attempt 1 of a new series."""
    again = Delivery.objects.create(
        tenant_id=delivery.tenant_id,
        webhook_id=delivery.webhook_id,
        event=delivery.event,
        event_id=delivery.event_id,
        payload=delivery.payload,
        attempt=1,
        redelivery_of=delivery,
    )
    audit_record(
        actor=actor, tenant=delivery.tenant, action="webhook.redeliver", target=again, diff={"of": delivery.pk}
    )
    transaction.on_commit(lambda: _enqueue_attempt(delivery_id=again.pk, delay=0))
    return again


# What the other services announce, in one place so each of them calls one line.


def _app_data(app) -> dict:
    return {"app": app.slug}


def webhook_app_event(*, app, event: str) -> None:
    webhook_emit(tenant_id=app.tenant_id, event=event, data=_app_data(app))


def webhook_release_event(*, release, status: str, error: str = "") -> None:
    """Announce that a release went live (succeeded) or failed; other statuses announce nothing."""
    if status not in ("succeeded", "failed"):
        return
    app = release.app
    data = {**_app_data(app), "release": release.version, "status": status, "error": error[:1000]}
    webhook_emit(tenant_id=app.tenant_id, event=f"release.{status}", data=data)


def webhook_build_event(*, build, status: str, error: str = "") -> None:
    if status not in ("succeeded", "failed"):
        return
    app = build.app
    data = {**_app_data(app), "build": build.number, "status": status, "error": error[:1000]}
    webhook_emit(tenant_id=app.tenant_id, event=f"build.{status}", data=data)
