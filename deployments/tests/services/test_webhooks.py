"""Webhooks: signed deliveries to a real local receiver, retries with growing delays, and the SSRF guard."""

import hashlib
import hmac
import json
import socket

import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import Delivery, DeliveryStatus, Webhook
from deployments.outbound import address_refusal
from deployments.services import webhooks
from deployments.services.apps import app_create
from deployments.tests.hooks.receivers import Receiver, run_due_tasks
from portal.errors import Invalid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_allowed(settings):
    settings.BERTH_OUTBOUND_ALLOW = ["127.0.0.1/32"]


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def test_an_event_reaches_the_receiver_signed_with_the_secret_shown_once(loopback_allowed, receiver, tenant, olivia):
    # given
    webhook, secret = webhooks.webhook_create(tenant=tenant, url=receiver.url, events=["app.created"], actor=olivia)
    assert secret.startswith("whsec_") and secret not in webhook.secret

    # when
    app_create(tenant=tenant, slug="shop", actor=olivia)
    run_due_tasks(until=lambda: receiver.requests, timeout=10)

    # then
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    timestamp = request.headers["X-Berth-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Berth-Signature"], expected)
    body = json.loads(request.body)
    assert (body["event"], body["tenant"], body["data"]) == ("app.created", "acme", {"app": "shop"})
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempt, delivery.error) == ("succeeded", 200, 1, "")
    assert delivery.response_excerpt == "ok"


def test_a_webhook_not_subscribed_to_the_event_gets_nothing(loopback_allowed, receiver, tenant, olivia):
    webhooks.webhook_create(tenant=tenant, url=receiver.url, events=["release.failed"], actor=olivia)

    app_create(tenant=tenant, slug="shop", actor=olivia)
    run_due_tasks()

    assert receiver.requests == []
    assert Delivery.objects.count() == 0


def test_a_failing_receiver_gets_bounded_retries_with_growing_delays(settings, loopback_allowed, tenant, olivia):
    # given
    settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS = 0.2
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 5
    failing = Receiver(status=500).start()
    try:
        webhooks.webhook_create(tenant=tenant, url=failing.url, events=["app.created"], actor=olivia)

        # when
        app_create(tenant=tenant, slug="shop", actor=olivia)
        run_due_tasks(until=lambda: len(failing.requests) >= 5 and not DBTaskResult.objects.ready(), timeout=20)
    finally:
        failing.stop()

    # then
    assert len(failing.requests) == 5
    gaps = [b.at - a.at for a, b in zip(failing.requests, failing.requests[1:], strict=False)]
    assert [round(gap, 1) >= want for gap, want in zip(gaps, [0.2, 0.4, 0.8, 1.6], strict=True)] == [True] * 4
    assert gaps == sorted(gaps)
    attempts = list(Delivery.objects.order_by("attempt").values_list("attempt", "status", "response_code"))
    assert attempts == [(n, "failed", 500) for n in range(1, 6)]
    assert len({d.event_id for d in Delivery.objects.all()}) == 1
    assert {d.error for d in Delivery.objects.all()} == {"The receiver answered 500."}
    assert DBTaskResult.objects.ready().count() == 0


def test_a_redelivery_sends_the_same_event_again(loopback_allowed, receiver, tenant, olivia):
    webhooks.webhook_create(tenant=tenant, url=receiver.url, events=["app.created"], actor=olivia)
    app_create(tenant=tenant, slug="shop", actor=olivia)
    run_due_tasks(until=lambda: receiver.requests, timeout=10)
    first = Delivery.objects.get()

    again = webhooks.delivery_redeliver(delivery=first, actor=olivia)
    run_due_tasks(until=lambda: len(receiver.requests) == 2, timeout=10)

    again.refresh_from_db()
    assert (again.status, again.redelivery_of_id, again.event_id) == (
        DeliveryStatus.SUCCEEDED,
        first.pk,
        first.event_id,
    )
    assert receiver.requests[0].body == receiver.requests[1].body


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.1.2.3/"],
)
def test_inside_addresses_are_refused_without_the_allow_list(url, tenant, olivia):
    with pytest.raises(Invalid) as refused:
        webhooks.webhook_create(tenant=tenant, url=url, events=["app.created"], actor=olivia)

    assert refused.value.code == "outbound_refused"
    assert Webhook.objects.count() == 0


def test_a_name_resolving_to_a_private_address_is_refused(tenant, olivia):
    # `localhost` resolves (through /etc/hosts) to loopback, a name that is not an address.
    assert socket.gethostbyname("localhost") == "127.0.0.1"

    with pytest.raises(Invalid) as refused:
        webhooks.webhook_create(tenant=tenant, url="http://localhost:8000/", events=["app.created"], actor=olivia)

    assert refused.value.code == "outbound_refused"
    assert "127.0.0.1" in refused.value.message


def test_the_guard_runs_again_at_delivery_time(settings, loopback_allowed, receiver, tenant, olivia):
    # given a webhook saved while loopback was allowed
    webhooks.webhook_create(tenant=tenant, url=receiver.url, events=["app.created"], actor=olivia)
    settings.BERTH_OUTBOUND_ALLOW = []
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 1

    # when
    app_create(tenant=tenant, slug="shop", actor=olivia)
    run_due_tasks()

    # then
    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "127.0.0.1, a loopback address" in delivery.error


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("8.8.8.8", ""),
        ("2001:4860:4860::8888", ""),
        ("192.168.1.1", "a private address"),
        ("172.17.0.1", "a private address"),
        ("224.0.0.1", "a multicast address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("0.0.0.0", "a private address"),  # noqa: S104 - an address refused, not one bound
    ],
)
def test_address_refusals(address, refusal):
    assert address_refusal(address) == refusal
