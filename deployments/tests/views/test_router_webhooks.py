"""The router-and-drains page and the webhooks pages: what they save, what they refuse (with the reason, keeping
what was typed, changing nothing), the drain's dropped count, and the webhook secret shown once."""

import re

import pytest

from deployments import crypto
from deployments.models import Delivery, Drain, RouterSettings, Webhook
from deployments.services.webhooks import signature
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

ROUTER = "/t/acme/apps/web/router/"
FORM = {"max_body_mb": "100", "connect_timeout_s": "5", "read_timeout_s": "60", "maintenance_page": "", "allow": ""}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _settings(app) -> tuple:
    row = RouterSettings.objects.filter(app=app).first()
    return None if row is None else (row.max_body_mb, row.maintenance, row.maintenance_page, row.allow)


def test_the_router_form_saves_maintenance_and_the_allowlist(client, members):
    client.force_login(members["owner"])
    body = {
        **FORM,
        "maintenance": "on",
        "maintenance_page": "<h1>Back soon</h1>",
        "allow": "203.0.113.0/24\n\n10.0.0.0/8 ",
    }

    response = client.post(ROUTER + "settings/", body, follow=True)

    assert _messages(response) == ["Saved the router settings: the routers apply them within a second."]
    assert _settings(members["app"]) == (100, True, "<h1>Back soon</h1>", ["203.0.113.0/24", "10.0.0.0/8"])
    page = response.content.decode()
    assert "203.0.113.0/24\n10.0.0.0/8</textarea>" in page
    assert AuditEvent.objects.filter(action="router.update").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_body_mb", "0", "Body limit (MB): Ensure this value is greater than or equal to 1."),
        ("allow", "203.0.113.0/24\nsomewhere", "'somewhere' is not an IP address or CIDR range."),
    ],
)
def test_a_bad_router_setting_is_refused_with_the_reason_and_keeps_what_was_typed(
    client, members, field, value, message
):
    client.force_login(members["owner"])
    before = _settings(members["app"])

    response = client.post(ROUTER + "settings/", {**FORM, field: value})

    assert response.status_code == 400
    assert message in _messages(response)[0]
    assert value.splitlines()[-1] in response.content.decode()
    assert _settings(members["app"]) == before
    assert AuditEvent.objects.filter(action="router.update").count() == 0


def test_a_drain_shows_what_it_dropped_and_a_loopback_one_is_refused(client, members):
    client.force_login(members["owner"])

    added = client.post(ROUTER.replace("router/", "drains/"), {"url": "syslog+tls://1.1.1.1:6514"}, follow=True)
    Drain.objects.filter(app=members["app"]).update(delivered=10, dropped=7)
    page = client.get(ROUTER).content.decode()
    refused = client.post(ROUTER.replace("router/", "drains/"), {"url": "syslog://127.0.0.1:514"})

    assert _messages(added) == ["web's lines now go to syslog+tls://1.1.1.1:6514 as well."]
    assert '<span class="badge failed">7 dropped</span>' in page
    assert refused.status_code == 400
    assert "127.0.0.1" in _messages(refused)[0]
    assert 'value="syslog://127.0.0.1:514"' in refused.content.decode()
    assert list(Drain.objects.values_list("url", flat=True)) == ["syslog+tls://1.1.1.1:6514"]


def test_a_new_webhooks_secret_is_shown_once_and_signs_as_the_receiver_checks(client, members):
    client.force_login(members["owner"])

    created = client.post(
        "/t/acme/webhooks/new/", {"url": "https://1.1.1.1/hooks", "events": ["release.succeeded", "app.created"]}
    )
    listed = client.get("/t/acme/webhooks/")

    shown = re.search(r'<code id="new-webhook-secret">([^<]+)</code>', created.content.decode()).group(1)
    webhook = Webhook.objects.get()
    assert (webhook.url, sorted(webhook.events)) == ("https://1.1.1.1/hooks", ["app.created", "release.succeeded"])
    assert crypto.decrypt(webhook.secret) == shown
    assert signature(secret=shown, timestamp="1", body=b"{}") == signature(
        secret=crypto.decrypt(webhook.secret), timestamp="1", body=b"{}"
    )
    assert created["Cache-Control"] == "no-store"
    assert shown not in listed.content.decode()


def test_a_bad_webhook_is_refused_and_a_delivery_is_redelivered(client, members):
    client.force_login(members["owner"])

    refused = client.post("/t/acme/webhooks/new/", {"url": "https://127.0.0.1/hooks", "events": ["app.created"]})
    client.post("/t/acme/webhooks/new/", {"url": "https://1.1.1.1/hooks", "events": ["app.created"]})
    webhook = Webhook.objects.get()
    delivery = Delivery.objects.create(
        tenant=webhook.tenant, webhook=webhook, event="app.created", payload={}, status="failed"
    )
    again = client.post(f"/t/acme/webhooks/{webhook.pk}/deliveries/{delivery.pk}/redeliver/", follow=True)

    assert refused.status_code == 400 and "127.0.0.1" in _messages(refused)[0]
    assert Webhook.objects.count() == 1
    redelivery = Delivery.objects.get(redelivery_of=delivery)
    assert _messages(again) == [f"Queued app.created again (delivery {redelivery.pk})."]
    assert f"<td>{redelivery.pk}</td>" in again.content.decode()
