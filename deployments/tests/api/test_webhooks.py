"""API of webhooks: the secret shown once, deliveries listed with every attempt, redelivery, tenancy."""

import pytest

from deployments.models import Delivery, Webhook
from deployments.services import webhooks
from deployments.tests.hooks.receivers import Receiver, run_due_tasks

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOKS = "/api/v1/tenants/acme/webhooks/"


@pytest.fixture
def failing(settings):
    settings.BERTH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS = 0.05
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 3
    receiver = Receiver(status=500).start()
    yield receiver
    receiver.stop()


def test_the_secret_is_answered_once_and_never_listed(api, olivia, failing):
    client = api(olivia)

    created = client.post(WEBHOOKS, {"url": failing.url, "events": ["app.created"]}, format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["secret"].startswith("whsec_")
    listed = client.get(WEBHOOKS).json()["results"]
    assert [set(row) for row in listed] == [{"id", "url", "events", "active", "created_at", "updated_at"}]
    shown = client.get(f"{WEBHOOKS}{created.json()['id']}/").json()
    assert "secret" not in shown


def test_the_deliveries_list_shows_every_attempt_and_a_redelivery_adds_one(api, olivia, failing):
    client = api(olivia)
    hook = client.post(WEBHOOKS, {"url": failing.url, "events": ["app.created"]}, format="json").json()

    client.post("/api/v1/tenants/acme/apps/", {"slug": "shop"}, format="json")
    run_due_tasks(
        until=lambda: len(failing.requests) == 3 and Delivery.objects.filter(status="pending").count() == 0, timeout=10
    )
    listed = client.get(f"{WEBHOOKS}{hook['id']}/deliveries/").json()["results"]

    assert [(row["attempt"], row["status"], row["response_code"]) for row in listed] == [
        (3, "failed", 500),
        (2, "failed", 500),
        (1, "failed", 500),
    ]
    assert listed[0]["response_excerpt"] == "receiver is down"
    again = client.post(f"{WEBHOOKS}{hook['id']}/deliveries/{listed[-1]['id']}/redeliver/")
    assert again.status_code == 201
    assert (again.json()["attempt"], again.json()["redelivery_of"]) == (1, listed[-1]["id"])


def test_a_loopback_url_is_refused_with_the_field(api, olivia):
    answer = api(olivia).post(WEBHOOKS, {"url": "http://127.0.0.1:9/", "events": ["app.created"]}, format="json")

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "outbound_refused"
    assert "url" in answer.json()["error"]["fields"]
    assert Webhook.objects.count() == 0


def test_patch_changes_events_and_refuses_an_unknown_one(api, olivia, failing):
    client = api(olivia)
    hook = client.post(WEBHOOKS, {"url": failing.url, "events": ["app.created"]}, format="json").json()

    changed = client.patch(f"{WEBHOOKS}{hook['id']}/", {"events": ["release.failed", "app.deleted"]}, format="json")
    refused = client.patch(f"{WEBHOOKS}{hook['id']}/", {"events": ["nope"]}, format="json")

    assert changed.json()["events"] == ["app.deleted", "release.failed"]
    assert refused.status_code == 400
    assert Webhook.objects.get().events == ["app.deleted", "release.failed"]


def test_another_tenants_webhook_and_deliveries_answer_404(api, mallory, olivia, failing, other_tenant):
    theirs, _secret = webhooks.webhook_create(
        tenant=other_tenant, url=failing.url, events=["app.created"], actor=mallory
    )
    delivery = Delivery.objects.create(tenant=other_tenant, webhook=theirs, event="app.created", payload={})
    client = api(olivia)

    answers = [
        client.get(f"{WEBHOOKS}{theirs.pk}/").status_code,
        client.patch(f"{WEBHOOKS}{theirs.pk}/", {"active": False}, format="json").status_code,
        client.delete(f"{WEBHOOKS}{theirs.pk}/").status_code,
        client.get(f"{WEBHOOKS}{theirs.pk}/deliveries/").status_code,
        client.post(f"{WEBHOOKS}{theirs.pk}/deliveries/{delivery.pk}/redeliver/").status_code,
        client.get("/api/v1/tenants/globex/webhooks/").status_code,
    ]

    assert answers == [404] * 6
    theirs.refresh_from_db()
    assert theirs.active is True
    assert Delivery.objects.count() == 1
