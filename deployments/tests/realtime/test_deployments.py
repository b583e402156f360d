"""The deployment progress WebSocket: members get the state then each event; others are refused."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from deployments.models import Deployment
from deployments.realtime.routing import websocket_urlpatterns
from deployments.services.progress import publish
from deployments.tests.factories import AppFactory, MembershipFactory, ReleaseFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    # The executor thread of database_sync_to_async keeps its connection; the test database cannot be dropped then.
    await database_sync_to_async(connections.close_all)()


@database_sync_to_async
def _setup():
    tenant = TenantFactory(slug="wsacme")
    app = AppFactory(tenant=tenant, slug="web")
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app, version=1))
    member = MembershipFactory(tenant=tenant, user=UserFactory(username="wsmember"), role="viewer").user
    stranger = MembershipFactory(user=UserFactory(username="wsstranger"), role="owner").user
    return deployment, member, stranger


def _connect(deployment_id, user) -> WebsocketCommunicator:
    path = f"/ws/tenants/wsacme/apps/web/deployments/{deployment_id}/"
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    communicator.scope["token"] = None
    return communicator


@database_sync_to_async
def _progress(deployment: Deployment) -> None:
    deployment.status, deployment.progress = "running", 40
    deployment.save()
    publish(deployment)


async def test_a_member_gets_the_state_then_each_published_change():
    deployment, member, _stranger = await _setup()
    communicator = _connect(deployment.pk, member)

    connected, _ = await communicator.connect()
    first = await communicator.receive_json_from(timeout=5)
    await _progress(deployment)
    second = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    assert connected is True
    assert (first["id"], first["status"], first["progress"], first["release"]) == (deployment.pk, "pending", 0, 1)
    assert (second["status"], second["progress"]) == ("running", 40)


async def test_another_tenant_and_anonymous_callers_are_refused():
    deployment, _member, stranger = await _setup()

    refused = []
    for user, deployment_id in ((stranger, deployment.pk), (AnonymousUser(), deployment.pk), (stranger, 999999)):
        communicator = _connect(deployment_id, user)
        connected, code = await communicator.connect()
        refused.append((connected, code))

    assert refused == [(False, 4404), (False, 4401), (False, 4404)]
