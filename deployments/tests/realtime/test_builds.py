import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer

from deployments.models import BuildStatus
from deployments.services.builds import build_cancel
from deployments.services.builds.log import BuildLog
from deployments.tests.factories import AppFactory, BuildFactory, MembershipFactory
from portal.asgi import application
from tenants.models import Role, Scope
from tenants.services import token_create

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def in_memory_layer(request, settings):
    """The embedded mode's layer, unless the test asks for the production one (``redis_layer``)."""
    if "redis_layer" not in request.fixturenames:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def redis_layer(settings):
    """The layer the settings choose when REDIS_URL is set (channels-redis), on a key prefix of this test's own.

    Its own prefix: other suites on the same Redis use the same group names (`build-<id>`) for builds of theirs.
    """
    default = settings.CHANNEL_LAYERS["default"]
    assert default["BACKEND"] == "channels_redis.core.RedisChannelLayer", "set REDIS_URL (as CI does) to run on Redis"
    prefix = f"berth-test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {"default": {**default, "CONFIG": {**default["CONFIG"], "prefix": prefix}}}
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    return layer


def _token(tenant, role: str) -> str:
    membership = MembershipFactory(tenant=tenant, user__username=f"{tenant.slug}-{role}", role=role)
    return token_create(user=membership.user, scopes=[Scope.READ])[1]


def _connect(build, token: str | None, tenant_slug: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    path = f"/ws/tenants/{tenant_slug or build.app.tenant.slug}/apps/{build.app.slug}/builds/{build.number}/"
    return WebsocketCommunicator(application, path, headers=headers)


def test_a_finished_build_sends_its_stored_log_then_its_status():
    build = BuildFactory(
        app=AppFactory(tenant__slug="acme"),
        status=BuildStatus.FAILED,
        log="Step 1/2\nBuild failed: boom\n",
        error="boom",
    )
    ws = _connect(build, _token(build.app.tenant, Role.VIEWER))

    async def scenario():
        connected, _ = await ws.connect()
        assert connected
        return [await ws.receive_json_from() for _ in range(3)], (await ws.receive_output())["type"]

    messages, last = async_to_sync(scenario)()

    assert messages == [
        {"type": "log", "index": 0, "line": "Step 1/2"},
        {"type": "log", "index": 1, "line": "Build failed: boom"},
        {"type": "status", "status": "failed", "error": "boom"},
    ]
    assert last == "websocket.close"


def _watch_a_worker_log_two_lines(build) -> list[dict]:
    """Connect to a running build's log, let a worker (another thread) log two lines and finish; return what came."""
    ws = _connect(build, _token(build.app.tenant, Role.VIEWER))

    def work():
        log = BuildLog(build)
        log("second")
        log("third")
        log.status(BuildStatus.SUCCEEDED)
        log.close()

    async def scenario():
        assert (await ws.connect(timeout=10))[0]
        first = await ws.receive_json_from(timeout=10)
        await sync_to_async(work)()
        rest = [await ws.receive_json_from(timeout=10) for _ in range(3)]
        await ws.disconnect()
        return [first, *rest]

    return async_to_sync(scenario)()


LIVE_AFTER_STORED = [
    {"type": "log", "index": 0, "line": "first"},
    {"type": "log", "index": 1, "line": "second"},
    {"type": "log", "index": 2, "line": "third"},
    {"type": "status", "status": "succeeded", "error": ""},
]


def test_live_lines_follow_the_stored_ones_without_duplicates():
    # given: a running build with one stored line
    build = BuildFactory(app=AppFactory(tenant__slug="acme"), status=BuildStatus.RUNNING, log="first\n")

    # when: the worker logs two lines and finishes
    messages = _watch_a_worker_log_two_lines(build)

    # then
    assert messages == LIVE_AFTER_STORED
    build.refresh_from_db()
    assert build.log == "first\nsecond\nthird\n"


def test_live_lines_cross_the_redis_layer_as_in_production(redis_layer):
    # given: a running build with one stored line, the consumer and the worker joined only through Redis
    build = BuildFactory(app=AppFactory(tenant__slug="acme"), status=BuildStatus.RUNNING, log="first\n")

    # when: the worker logs two lines and finishes
    messages = _watch_a_worker_log_two_lines(build)

    # then
    assert messages == LIVE_AFTER_STORED
    build.refresh_from_db()
    assert build.log == "first\nsecond\nthird\n"


def test_another_tenant_and_an_anonymous_caller_are_refused():
    build = BuildFactory(app=AppFactory(tenant__slug="acme"), status=BuildStatus.RUNNING, log="secret line\n")
    other = AppFactory(tenant__slug="other")
    outsider = _token(other.tenant, Role.OWNER)
    attempts = [
        (_connect(build, outsider), 4404),
        (_connect(build, outsider, "other"), 4404),
        (_connect(build, None), 4401),
    ]

    async def scenario():
        return [await ws.connect() for ws, _ in attempts]

    results = async_to_sync(scenario)()

    assert results == [(False, code) for _, code in attempts]


def test_a_watcher_of_a_queued_build_learns_it_was_cancelled():
    # given: a queued build with one stored line, watched
    build = BuildFactory(app=AppFactory(tenant__slug="acme"), status=BuildStatus.PENDING, image="", log="queued\n")
    ws = _connect(build, _token(build.app.tenant, Role.VIEWER))
    owner = MembershipFactory(tenant=build.app.tenant, user__username="alice", role=Role.OWNER).user

    async def scenario():
        assert (await ws.connect())[0]
        first = await ws.receive_json_from()
        await sync_to_async(build_cancel)(build=build, actor=owner)
        rest = [await ws.receive_json_from() for _ in range(2)]
        return [first, *rest], (await ws.receive_output())["type"]

    # when
    messages, last = async_to_sync(scenario)()

    # then: the line the cancellation stored, then the final status, then the socket closes
    assert messages == [
        {"type": "log", "index": 0, "line": "queued"},
        {"type": "log", "index": 1, "line": "Build cancelled by alice before it started."},
        {"type": "status", "status": "cancelled", "error": "cancelled by alice"},
    ]
    assert last == "websocket.close"
