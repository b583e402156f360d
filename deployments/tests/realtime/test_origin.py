"""The Origin check of every WebSocket route, through the real ASGI application, on both channel layers.

A script that follows DESIGN.md (a Bearer token, no Origin header) is let in; a browser's session is let in only
from an allowed Origin, so another site's page cannot open a socket the user's cookie signs.
"""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from deployments.models import BuildStatus, Deployment
from deployments.realtime.events import deployment_group
from deployments.tests.factories import AppFactory, BuildFactory, MembershipFactory, ReleaseFactory, TenantFactory
from portal.asgi import application
from tenants.services import token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]

ALLOWED = b"http://localhost"
FOREIGN = b"http://evil.example"
# A close before accept: the handshake is refused (daphne answers HTTP 403).
REFUSED = (False, 1000)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=["in-memory", "redis"])
def layer(request, settings):
    """Each test runs on the embedded in-memory layer and on Redis (REDIS_URL, which CI always sets)."""
    if request.param == "redis":
        assert settings.REDIS_URL, "REDIS_URL must name the Redis of the test environment"
        config = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [settings.REDIS_URL]}}
    else:
        config = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    settings.CHANNEL_LAYERS = {"default": config}
    return request.param


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    # The executor thread of database_sync_to_async keeps its connection; the test database cannot be dropped then.
    await database_sync_to_async(connections.close_all)()


@database_sync_to_async
def _world():
    """A viewer of acme with a read token and a session cookie, and one object behind each WebSocket route."""
    app = AppFactory(tenant=TenantFactory(slug="wsorigin"), slug="web")
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app, version=1))
    build = BuildFactory(app=app, status=BuildStatus.RUNNING, image="", log="")
    viewer = MembershipFactory(tenant=app.tenant, role="viewer").user
    _, token = token_create(user=viewer, scopes=["read"])
    client = Client()
    client.force_login(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    paths = {
        "logs": "/ws/tenants/wsorigin/apps/web/logs/?tail=0",
        "deployment": f"/ws/tenants/wsorigin/apps/web/deployments/{deployment.pk}/",
        "build": f"/ws/tenants/wsorigin/apps/web/builds/{build.number}/",
    }
    return paths, deployment, token, cookie


async def _handshake(path: str, headers: list) -> tuple[bool, int | None]:
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await ws.connect(timeout=30)
    if connected:
        await ws.disconnect()
    return connected, code


@pytest.mark.parametrize("route", ["logs", "deployment", "build"])
async def test_a_bearer_token_without_origin_is_let_in(layer, route):
    paths, _, token, _ = await _world()

    outcome = await _handshake(paths[route], [(b"authorization", f"Bearer {token}".encode())])

    assert outcome == (True, None)


@pytest.mark.parametrize("route", ["logs", "deployment", "build"])
async def test_a_session_is_let_in_from_an_allowed_origin_only(layer, route):
    paths, _, _, cookie = await _world()

    allowed = await _handshake(paths[route], [(b"origin", ALLOWED), (b"cookie", cookie)])
    foreign = await _handshake(paths[route], [(b"origin", FOREIGN), (b"cookie", cookie)])
    missing = await _handshake(paths[route], [(b"cookie", cookie)])

    assert (allowed, foreign, missing) == ((True, None), REFUSED, REFUSED)


async def test_a_foreign_origin_is_refused_with_a_token_too(layer):
    paths, _, token, cookie = await _world()
    headers = [(b"origin", FOREIGN), (b"authorization", f"Bearer {token}".encode()), (b"cookie", cookie)]

    assert await _handshake(paths["deployment"], headers) == REFUSED


async def test_a_malformed_authorization_header_does_not_open_the_session_without_origin(layer):
    # "Bearer" alone is no token: the cookie would authenticate, so the Origin check applies and refuses.
    paths, _, _, cookie = await _world()

    assert await _handshake(paths["deployment"], [(b"authorization", b"Bearer"), (b"cookie", cookie)]) == REFUSED


async def test_an_invalid_token_without_origin_reaches_the_consumer_as_anonymous(layer):
    paths, _, _, cookie = await _world()
    headers = [(b"authorization", b"Bearer brt_" + b"x" * 43), (b"cookie", cookie)]

    # The consumer's own refusal (4401), not the Origin check's: the cookie does not stand in for a bad token.
    assert await _handshake(paths["deployment"], headers) == (False, 4401)


async def test_a_script_gets_the_live_events_of_a_deployment(layer):
    # given: a script connected as DESIGN.md says, a Bearer token and no Origin
    paths, deployment, token, _ = await _world()
    ws = WebsocketCommunicator(
        application, paths["deployment"], headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await ws.connect(timeout=30)
    first = await ws.receive_json_from(timeout=10)

    # when: the worker's event goes through the channel layer
    event = {"id": deployment.pk, "status": "running", "progress": 40}
    await get_channel_layer().group_send(deployment_group(deployment.pk), {"type": "deployment.event", "event": event})
    second = await ws.receive_json_from(timeout=10)
    await ws.disconnect()

    # then
    assert connected is True
    assert (first["id"], first["status"]) == (deployment.pk, "pending")
    assert second == event
