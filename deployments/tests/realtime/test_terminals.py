"""The terminal WebSockets' refusals, through the real ASGI application (Origin check and auth included)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from deployments.models import Run, RunStatus
from deployments.tests.factories import AppFactory, MembershipFactory, ReleaseFactory, TenantFactory
from deployments.tests.realtime.wsclient import session_headers, token_headers
from portal.asgi import application
from tenants.services import token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]

FOREIGN = b"http://evil.example"
REFUSED = (False, 1000)  # closed before accept: the handshake is refused (HTTP 403)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    await database_sync_to_async(connections.close_all)()


@database_sync_to_async
def _world(status=RunStatus.PENDING):
    """A developer's attached run of acme's web (no container: the tests never reach an engine), another developer."""
    app = AppFactory(tenant=TenantFactory(slug="wsterm"), slug="web")
    release = ReleaseFactory(app=app, version=1)
    owner, other = (MembershipFactory(tenant=app.tenant, role="developer").user for _ in range(2))
    Run.objects.create(
        tenant=app.tenant,
        app=app,
        release=release,
        number=1,
        command=["sh"],
        attach=True,
        status=status,
        created_by=owner,
    )
    tokens = {
        name: token_create(user=user, scopes=["read", "deploy"])[1]
        for name, user in [("owner", owner), ("other", other)]
    }
    return owner, tokens


async def _open(path: str, headers):
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await ws.connect(timeout=30)
    return ws, connected, code


RUN = "/ws/tenants/wsterm/apps/web/runs/1/"


async def test_a_session_opens_a_terminal_from_an_allowed_origin_only():
    owner, _ = await _world()
    allowed_headers = await database_sync_to_async(session_headers)(owner)
    foreign_headers = await database_sync_to_async(session_headers)(owner, origin=FOREIGN)

    _, *foreign = await _open(RUN, foreign_headers)
    ws, *allowed = await _open(RUN, allowed_headers)
    # let in: the run then says it is not waiting (its container was never created in this test) and closes
    message = await ws.receive_json_from(timeout=30)
    closed = await ws.receive_output(timeout=30)

    assert tuple(foreign) == REFUSED
    assert tuple(allowed) == (True, None)
    assert message["type"] == "exit" and "not waiting for its terminal" in message["error"]
    assert closed == {"type": "websocket.close", "code": 4409}


async def test_another_member_cannot_attach_to_a_run_and_it_stays_pending():
    _, tokens = await _world()

    _, *outcome = await _open(RUN, token_headers(tokens["other"]))

    assert tuple(outcome) == REFUSED
    assert await database_sync_to_async(lambda: Run.objects.get().status)() == RunStatus.PENDING


async def test_a_run_attaches_once():
    _, tokens = await _world(status=RunStatus.RUNNING)

    ws, connected, _ = await _open(RUN, token_headers(tokens["owner"]))
    message = await ws.receive_json_from(timeout=30)

    assert connected is True
    assert message == {"type": "exit", "code": None, "error": "Run 1 is not waiting for its terminal (running)."}


async def test_exec_into_a_missing_container_is_refused():
    _, tokens = await _world()

    _, *outcome = await _open("/ws/tenants/wsterm/apps/web/containers/web.1/exec/", token_headers(tokens["owner"]))

    assert tuple(outcome) == REFUSED
