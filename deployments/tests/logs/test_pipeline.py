"""The whole log pipeline against a real dockerd, Redis as the channel layer, the database and OpenSearch sinks.

A sample worker started with Berth's labels prints 10,000 numbered lines; a WebSocket client must receive them all,
in order, exactly once: straight through, across a reconnect with its cursor, across a collector killed with
SIGKILL and restarted, and across an OpenSearch outage.
"""

import contextlib
import json
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from deployments.models import LogLine, LogSink
from deployments.tests.factories import AppFactory, MembershipFactory, TenantFactory
from deployments.tests.logs.docker_helpers import Containers, Proxy, unique
from deployments.tests.logs.server import child_env, free_port, wait_listening
from deployments.tests.realtime.wsclient import communicator, logs_path, token_headers
from tenants.models import Role
from tenants.services import token_create

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

LINES = 10_000
REPO = settings.BASE_DIR


@pytest.fixture
def tenant_app():
    """A tenant and app with unique slugs (dockerd is shared), and a read token of a viewer."""
    tenant = TenantFactory(slug=unique("logs"))
    app = AppFactory(tenant=tenant, slug="web")
    membership = MembershipFactory(tenant=tenant, role=Role.VIEWER)
    _, token = token_create(user=membership.user, scopes=["read"], tenant=tenant)
    return tenant, app, token


@sync_to_async(thread_sensitive=False)
def run_container(containers: Containers, image: str, **labels_and_env) -> str:
    """Start a container without blocking the event loop the consumer runs in."""
    return containers.run(image, lines_exit=1, **labels_and_env)


def numbers(lines: list[dict]) -> list[int]:
    return [int(m["line"].split()[1]) for m in lines if m["stream"] == "stdout" and m["line"].startswith("line ")]


async def _receive_numbers(ws, until: int, got: list[dict], timeout: float = 90) -> str:
    """Receive into `got` until line number `until` arrived; return the last cursor seen."""
    cursor = ""
    last = (numbers(got) or [0])[-1]
    while last < until:
        message = await ws.receive_json_from(timeout=timeout)
        if message["type"] == "lines":
            got.extend(message["lines"])
            cursor = message["cursor"]
            last = (numbers(message["lines"]) or [last])[-1]
    return cursor


def test_ten_thousand_lines_arrive_complete_and_in_order(containers, collector, sample_image, tenant_app):
    tenant, app, token = tenant_app
    image = sample_image("worker")

    async def scenario():
        ws = communicator(logs_path(tenant.slug, "web", "tail=100"), token_headers(token))
        connected, _ = await ws.connect(timeout=30)
        status = await ws.receive_json_from(timeout=30)
        await run_container(containers, image, tenant=tenant.slug, app="web", lines_count=LINES, lines_interval=0)
        got: list[dict] = []
        await _receive_numbers(ws, LINES, got)
        await ws.disconnect()
        return connected, status, got

    connected, status, got = async_to_sync(scenario)()

    assert connected is True
    assert status["dropped"] == 0
    assert numbers(got) == list(range(1, LINES + 1))
    assert {(m["process"], m["release"], m["index"]) for m in got} == {("worker", 1, 1)}
    assert LogLine.objects.filter(app=app, stream="stdout").count() == LINES


def test_reconnect_with_cursor_loses_and_repeats_nothing(containers, collector, sample_image, tenant_app):
    tenant, _, token = tenant_app
    image = sample_image("worker")

    async def scenario():
        first = communicator(logs_path(tenant.slug, "web", "tail=0"), token_headers(token))
        await first.connect(timeout=30)
        await first.receive_json_from(timeout=30)
        await run_container(
            containers,
            image,
            tenant=tenant.slug,
            app="web",
            lines_count=LINES,
            lines_interval=0.0005,
        )
        before: list[dict] = []
        cursor = await _receive_numbers(first, 3000, before)
        await first.disconnect()
        second = communicator(logs_path(tenant.slug, "web", f"cursor={cursor}"), token_headers(token))
        await second.connect(timeout=30)
        await second.receive_json_from(timeout=30)
        after: list[dict] = []
        await _receive_numbers(second, LINES, after)
        await second.disconnect()
        return before, after

    before, after = async_to_sync(scenario)()

    assert numbers(before)[-1] >= 3000
    assert numbers(before) + numbers(after) == list(range(1, LINES + 1))


def _collectlogs(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "collectlogs", "--host", "local", "--prune-every", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_collector_killed_and_restarted_mid_stream_loses_and_repeats_nothing(containers, sample_image, tenant_app):
    tenant, app, token = tenant_app
    image = sample_image("worker")
    env = child_env()
    processes = [_collectlogs(env)]

    async def scenario():
        ws = communicator(logs_path(tenant.slug, "web", "tail=0"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        await run_container(
            containers,
            image,
            tenant=tenant.slug,
            app="web",
            lines_count=LINES,
            lines_interval=0.0005,
        )
        got: list[dict] = []
        await _receive_numbers(ws, 2500, got)
        # when: the collector dies without a chance to flush, and comes back while the worker still prints
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait()
        killed_at = numbers(got)[-1]
        processes.append(_collectlogs(env))
        await _receive_numbers(ws, LINES, got)
        await ws.disconnect()
        return killed_at, got

    try:
        killed_at, got = async_to_sync(scenario)()
    finally:
        for process in processes:
            process.kill()
            process.wait()

    assert killed_at < LINES
    assert numbers(got) == list(range(1, LINES + 1))
    stored = list(LogLine.objects.filter(app=app, stream="stdout").values_list("line", flat=True))
    assert stored == [f"line {n}" for n in range(1, LINES + 1)]


def test_opensearch_outage_loses_nothing(containers, collector, sample_image, tenant_app, opensearch_url):
    tenant, app, token = tenant_app
    image = sample_image("worker")
    target = urlparse(opensearch_url)
    proxy = Proxy((target.hostname, target.port))
    proxy.start()
    prefix = unique("berth-logs-test")
    LogSink.objects.create(tenant=tenant, kind="opensearch", url=proxy.url, index_prefix=prefix)

    async def scenario():
        ws = communicator(logs_path(tenant.slug, "web", "tail=0"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        await run_container(
            containers,
            image,
            tenant=tenant.slug,
            app="web",
            lines_count=LINES,
            lines_interval=0.0005,
        )
        got: list[dict] = []
        await _receive_numbers(ws, 2000, got)
        # when: the sink goes away for a while (connections refused), then comes back
        proxy.stop()
        await _wait_for_buffer(collector, 500)
        held = collector.writer.buffered()
        proxy.start()
        await _receive_numbers(ws, LINES, got)
        await ws.disconnect()
        return held, got

    try:
        held, got = async_to_sync(scenario)()
    finally:
        proxy.stop()

    assert held >= 500
    assert numbers(got) == list(range(1, LINES + 1))
    assert _opensearch_numbers(opensearch_url, prefix, tenant.slug) == list(range(1, LINES + 1))
    assert LogLine.objects.filter(app=app).count() == 0


async def _wait_for_buffer(collector, lines: int) -> None:
    import asyncio

    deadline = time.monotonic() + 60
    while collector.writer.buffered() < lines and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def _opensearch_numbers(url: str, prefix: str, tenant: str) -> list[int]:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[url])
    found: list[int] = []
    search_after = None
    while True:
        body = {
            "size": 5000,
            "query": {"bool": {"filter": [{"term": {"stream": "stdout"}}]}},
            "sort": [{"cursor": {"order": "asc"}}],
        }
        if search_after:
            body["search_after"] = search_after
        hits = client.search(index=f"{prefix}-{tenant}-*", body=body)["hits"]["hits"]
        if not hits:
            return found
        found += [int(h["_source"]["line"].split()[1]) for h in hits if h["_source"]["line"].startswith("line ")]
        search_after = hits[-1]["sort"]


class _Redis:
    """A redis-server of this test's own on a free port (the shared one serves the other suites), keeping nothing."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_listening(self.process, self.port, timeout=30), "redis-server did not listen within 30 s"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_redis_restarted_mid_stream_the_collector_goes_on_and_the_client_resumes_by_cursor(
    containers, sample_image, tenant_app, settings
):
    tenant, app, token = tenant_app
    image = sample_image("worker")
    redis = _Redis()
    redis.start()
    settings.REDIS_URL = redis.url
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis.url, "socket_timeout": 30}], "capacity": 5000, "expiry": 60},
        }
    }
    collector = _collectlogs(child_env())
    outcome = {}

    async def scenario():
        ws = communicator(logs_path(tenant.slug, "web", "tail=0"), token_headers(token))
        await ws.connect(timeout=30)
        await ws.receive_json_from(timeout=30)
        await run_container(containers, image, tenant=tenant.slug, app="web", lines_count=LINES, lines_interval=0.001)
        got: list[dict] = []
        cursor = await _receive_numbers(ws, 2500, got)
        # when: Redis dies and comes back empty (no groups, no channels) while the worker still prints
        redis.kill()
        redis.start()
        # the old connection: it ends (the client then reconnects by cursor) or goes on; it must not hang silently
        try:
            while numbers(got)[-1] < LINES:
                message = await ws.receive_output(timeout=20)
                if message["type"] == "websocket.close":
                    outcome["old"] = f"closed {message.get('code')}"
                    break
                content = json.loads(message["text"])
                if content["type"] == "lines":
                    got.extend(content["lines"])
                    cursor = content["cursor"]
            else:
                outcome["old"] = "went on"
        except TimeoutError:
            outcome["old"] = "silent"
        except Exception as error:  # the consumer's task ended with an error: the server closes the socket
            outcome["old"] = f"ended: {error!r}"
        with contextlib.suppress(Exception):
            await ws.disconnect()
        # the client reconnects with its last cursor: what it missed comes from the store, the rest live
        if numbers(got)[-1] < LINES:
            again = communicator(logs_path(tenant.slug, "web", f"cursor={cursor}"), token_headers(token))
            await again.connect(timeout=30)
            await again.receive_json_from(timeout=30)
            await _receive_numbers(again, LINES, got)
            await again.disconnect()
        return got

    try:
        got = async_to_sync(scenario)()
        assert collector.poll() is None  # the collector lived through it: no restart
    finally:
        collector.kill()
        collector.wait()
        redis.kill()

    print(f"\nRedis restarted mid-stream: the old WebSocket {outcome.get('old')}")
    assert outcome["old"] != "silent", "the old WebSocket neither ended nor went on: its client would wait forever"
    assert numbers(got) == list(range(1, LINES + 1))
    stored = list(LogLine.objects.filter(app=app, stream="stdout").values_list("line", flat=True))
    assert stored == [f"line {n}" for n in range(1, LINES + 1)]
