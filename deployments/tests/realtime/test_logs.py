"""The logs WebSocket: auth, Origin, tenant isolation, tail, cursor resume, filters and dedupe with live lines."""

import json
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import override_settings

from deployments.logs.sinks import DatabaseSink
from deployments.models import LogSink
from deployments.realtime.events import log_lines_publish
from deployments.tests.factories import AppFactory, MembershipFactory, TenantFactory, UserFactory
from deployments.tests.realtime.wsclient import communicator, logs_path, receive_lines, session_headers, token_headers
from tenants.models import Role
from tenants.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)

# A close before accept: the handshake is refused (daphne answers HTTP 403).
REFUSED = (False, 1000)


@pytest.fixture
def acme_app():
    return AppFactory(tenant=TenantFactory(slug="acme"), slug="web")


def _member_token(tenant, role=Role.DEVELOPER, scopes=("read",), restrict_to=None):
    membership = MembershipFactory(tenant=tenant, role=role)
    _, plaintext = token_create(user=membership.user, scopes=list(scopes), tenant=restrict_to)
    return membership.user, plaintext


def test_tail_then_live_without_duplicates(acme_app, make_records):
    # given: five stored lines
    records = make_records(acme_app, 5)
    DatabaseSink().write(records)
    _, token = _member_token(acme_app.tenant, role=Role.VIEWER)

    async def scenario():
        ws = communicator(logs_path("acme", "web", "tail=3"), token_headers(token))
        connected, _ = await ws.connect(timeout=30)
        status = await ws.receive_json_from(timeout=30)
        history, _ = await receive_lines(ws, 3)
        # when: the collector publishes a batch that overlaps what history sent
        more = make_records(acme_app, 2, start=6)
        live_batch = [r.as_message() for r in [records[-1], *more]]
        await sync_to_async(log_lines_publish)(app_id=acme_app.pk, messages=live_batch)
        live, _ = await receive_lines(ws, 2)
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return connected, status, history, live, quiet

    connected, status, history, live, quiet = async_to_sync(scenario)()

    assert connected is True
    assert status == {"type": "status", "dropped": 0, "cursor": None}
    assert [m["line"] for m in history] == ["line 3", "line 4", "line 5"]
    assert [m["line"] for m in live] == ["line 6", "line 7"]
    assert quiet is True


def test_resume_from_cursor_sends_everything_after_it(acme_app, make_records):
    records = make_records(acme_app, 1500)
    DatabaseSink().write(records)
    user, _ = _member_token(acme_app.tenant)
    headers = session_headers(user)

    async def scenario():
        ws = communicator(logs_path("acme", "web", f"cursor={records[99].cursor}"), headers)
        await ws.connect(timeout=30)
        status = await ws.receive_json_from(timeout=30)
        lines, _ = await receive_lines(ws, 1400)
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return status, lines, quiet

    status, lines, quiet = async_to_sync(scenario)()

    assert status["cursor"] == records[99].cursor
    assert [m["line"] for m in lines] == [f"line {n}" for n in range(101, 1501)]
    assert quiet is True


def test_filters_apply_to_history_and_live(acme_app, make_records):
    web, worker = make_records(acme_app, 3, process="web"), make_records(acme_app, 2, start=4, process="worker")
    DatabaseSink().write(web + worker)
    _, token = _member_token(acme_app.tenant)

    async def scenario():
        ws = communicator(logs_path("acme", "web", "process=worker&tail=10"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        history, _ = await receive_lines(ws, 2)
        live = make_records(acme_app, 1, start=6, process="web") + make_records(acme_app, 1, start=7, process="worker")
        await sync_to_async(log_lines_publish)(app_id=acme_app.pk, messages=[r.as_message() for r in live])
        live_lines, _ = await receive_lines(ws, 1)
        await ws.disconnect()
        return history, live_lines

    history, live = async_to_sync(scenario)()

    assert [m["line"] for m in history] == ["line 4", "line 5"]
    assert [m["line"] for m in live] == ["line 7"]


def test_status_shows_dropped_lines(acme_app):
    from deployments.logs.store import log_drops_record

    log_drops_record(counts={acme_app.pk: (acme_app.tenant_id, 42)})
    _, token = _member_token(acme_app.tenant)

    async def scenario():
        ws = communicator(logs_path("acme", "web"), token_headers(token))
        await ws.connect(timeout=30)
        status = await ws.receive_json_from(timeout=30)
        await ws.disconnect()
        return status

    assert async_to_sync(scenario)()["dropped"] == 42


def _refused(path, headers) -> tuple[bool, object]:
    async def scenario():
        ws = communicator(path, headers)
        connected, code = await ws.connect(timeout=30)
        await ws.disconnect()
        return connected, code

    return async_to_sync(scenario)()


def test_other_tenants_member_is_refused(acme_app, make_records):
    DatabaseSink().write(make_records(acme_app, 5))
    _, foreign_token = _member_token(TenantFactory(slug="globex"), role=Role.OWNER, scopes=("read", "admin"))

    assert _refused(logs_path("acme", "web"), token_headers(foreign_token)) == REFUSED


def test_token_restricted_to_another_tenant_is_refused(acme_app):
    globex = TenantFactory(slug="globex")
    user = UserFactory()
    MembershipFactory(tenant=acme_app.tenant, user=user, role=Role.OWNER)
    MembershipFactory(tenant=globex, user=user, role=Role.OWNER)
    _, plaintext = token_create(user=user, scopes=["read"], tenant=globex)

    assert _refused(logs_path("acme", "web"), token_headers(plaintext)) == REFUSED


def test_foreign_origin_is_refused(acme_app):
    _, token = _member_token(acme_app.tenant)

    assert _refused(logs_path("acme", "web"), token_headers(token, origin=b"http://evil.example")) == REFUSED


def test_anonymous_and_unknown_app_are_refused(acme_app):
    _, token = _member_token(acme_app.tenant)

    assert _refused(logs_path("acme", "web"), [(b"origin", b"http://localhost")]) == REFUSED
    assert _refused(logs_path("acme", "nope"), token_headers(token)) == REFUSED


def test_opensearch_sink_unreachable_closes_with_try_again_later(acme_app):
    LogSink.objects.create(tenant=acme_app.tenant, kind="opensearch", url="http://127.0.0.1:9")
    _, token = _member_token(acme_app.tenant)

    async def scenario():
        ws = communicator(logs_path("acme", "web"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        error = await ws.receive_json_from(timeout=10)
        closed = await ws.receive_output(timeout=10)
        return error, closed

    error, closed = async_to_sync(scenario)()

    assert error["type"] == "error"
    assert closed == {"type": "websocket.close", "code": 1013}


@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}})
def test_embedded_in_memory_layer_delivers_lines_published_from_a_collector_thread(acme_app, make_records):
    # given: embedded mode, where the collector is a thread beside the server's event loop
    _, token = _member_token(acme_app.tenant)
    records = make_records(acme_app, 3)

    async def scenario():
        ws = communicator(logs_path("acme", "web", "tail=0"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        # when: a plain thread publishes, as the collector's writer does
        messages = [r.as_message() for r in records]
        thread = threading.Thread(target=log_lines_publish, kwargs={"app_id": acme_app.pk, "messages": messages})
        thread.start()
        lines, _ = await receive_lines(ws, 3)
        thread.join()
        await ws.disconnect()
        return lines

    assert [m["line"] for m in async_to_sync(scenario)()] == ["line 1", "line 2", "line 3"]


def test_a_batch_of_long_lines_reaches_the_client_in_messages_under_a_mebibyte(acme_app, make_records):
    # given: fourteen lines of 64 KiB (ASCII) and two of 20,000 non-ASCII characters, in one collector batch
    _, token = _member_token(acme_app.tenant, role=Role.VIEWER)
    records = make_records(acme_app, 16)
    for index, record in enumerate(records):
        record.line = ("é" * 20_000) if index in (3, 9) else (f"{index:02d}" + "x" * (64 * 1024 - 2))

    async def scenario():
        ws = communicator(logs_path("acme", "web", "tail=0"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        # when
        await sync_to_async(log_lines_publish)(app_id=acme_app.pk, messages=[r.as_message() for r in records])
        lines, messages = await receive_lines(ws, 16)
        await ws.disconnect()
        return lines, messages

    lines, messages = async_to_sync(scenario)()

    # then: every line once, in order, whole; no message of a mebibyte or more as the client receives it
    assert [m["line"] for m in lines] == [r.line for r in records]
    assert len(messages) > 1
    assert max(len(json.dumps(message)) for message in messages) < 1024 * 1024
