"""A real rollout on dockerd announces itself: the webhook receiver gets release.succeeded, signed."""

import hashlib
import hmac
import json

import pytest

from deployments.models import DeploymentStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.services.webhooks import webhook_create
from deployments.tests.factories import UserFactory
from deployments.tests.hooks.receivers import Receiver, run_due_tasks

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_deploy_is_delivered_signed_to_the_receiver(settings, hosts, router, app, make_release):
    # given
    settings.BERTH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    receiver = Receiver().start()
    try:
        _webhook, secret = webhook_create(
            tenant=app.tenant, url=receiver.url, events=["release.succeeded", "release.failed"], actor=UserFactory()
        )
        release = make_release()

        # when
        deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
        run_due_tasks(until=lambda: receiver.requests, timeout=15)
    finally:
        receiver.stop()

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    signed = f"{request.headers['X-Berth-Timestamp']}.".encode() + request.body
    assert request.headers["X-Berth-Signature"] == hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    body = json.loads(request.body)
    assert (body["event"], body["tenant"]) == ("release.succeeded", app.tenant.slug)
    assert body["data"] == {"app": "web", "release": release.version, "status": "succeeded", "error": ""}
    assert request.headers["X-Berth-Event"] == "release.succeeded"
