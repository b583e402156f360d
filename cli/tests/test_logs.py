"""logs: history through the HTTP API, following by polling, and following the WebSocket."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

LOGS = "/api/v1/tenants/acme/apps/web/logs/"
BERTH = Path(__file__).resolve().parent.parent / "berth"


def line(number: int, text: str, process: str = "web") -> dict:
    return {
        "cursor": f"c{number:04d}",
        "timestamp": f"2026-11-28T02:00:{number:02d}Z",
        "release": 3,
        "process": process,
        "index": 1,
        "container": "3f2a1c0d9e8b77aa",
        "stream": "stdout",
        "line": text,
    }


def logs_page(lines: list, next_url: str | None = None, previous: str | None = None) -> dict:
    return {"results": lines, "next": next_url, "previous": previous, "dropped": 0}


def test_logs_prints_the_newest_lines_oldest_first(berth, fake_api):
    fake_api.on("GET", LOGS, logs_page([line(1, "first"), line(2, "second\n")], f"{fake_api.url}{LOGS}?cursor=c0002"))

    code, out, _ = berth("logs", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "2026-11-28 02:00:01Z web.1[3f2a1c0d9e8b]: first\n2026-11-28 02:00:02Z web.1[3f2a1c0d9e8b]: second\n"
    )
    assert [r.query for r in fake_api.requests] == [{"limit": "100"}]  # never polls `next` without --tail


def test_logs_passes_filters_and_pages_back_until_n(berth, fake_api):
    fake_api.on(
        "GET",
        LOGS,
        logs_page([line(3, "c GET /")], f"{fake_api.url}{LOGS}?cursor=c0003", f"{fake_api.url}{LOGS}?before=c0003"),
        logs_page([line(1, "a GET /"), line(2, "b GET /")], None, f"{fake_api.url}{LOGS}?before=c0001"),
    )

    code, out, _ = berth("logs", "-t", "acme", "-a", "web", "-n", "2", "--process", "web", "--grep", "GET")

    assert code == 0
    assert fake_api.requests[0].query == {"process": "web", "q": "GET", "limit": "2"}
    assert fake_api.requests[1].query == {"before": "c0003"}
    assert len(fake_api.requests) == 2
    assert [text.split(": ", 1)[1] for text in out.splitlines()] == ["b GET /", "c GET /"]


def test_logs_release_filter_takes_vN(berth, fake_api):
    fake_api.on("GET", LOGS, logs_page([]))

    berth("logs", "-t", "acme", "-a", "web", "--release", "v3")

    assert fake_api.requests[0].query == {"release": "3", "limit": "100"}


def test_logs_json_is_one_object_per_line(berth, fake_api):
    fake_api.on("GET", LOGS, logs_page([line(1, "hello")]))

    _, out, _ = berth("logs", "-t", "acme", "-a", "web", "--json")

    assert [json.loads(text) for text in out.splitlines()] == [line(1, "hello")]


class Follower:
    """`berth logs --tail` in a subprocess, read line by line; killed when the test ends."""

    def __init__(self, url: str, *args: str):
        env = {**os.environ, "BERTH_URL": url, "BERTH_TOKEN": "brt_testtoken"}
        argv = [sys.executable, str(BERTH), "logs", "-t", "acme", "-a", "web", "--tail", *args]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # A safety net against a hung test run, not an assertion on speed.
        self._guard = threading.Timer(120, self.process.kill)
        self._guard.start()

    def read(self, count: int) -> list[str]:
        return [self.process.stdout.readline().rstrip("\n") for _ in range(count)]

    def stop(self) -> tuple[str, str]:
        """End the follower; return what else it wrote on stdout, and its stderr."""
        self.process.terminate()
        rest, err = self.process.communicate()
        self._guard.cancel()
        return rest, err


def _wait_for(condition, timeout: float = 30) -> None:
    event = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"the condition did not hold within {timeout} s")
        event.wait(0.02)


def test_tail_polls_the_next_url_and_never_repeats_a_line(fake_api):
    after = f"{fake_api.url}{LOGS}?limit=2&cursor="
    fake_api.on("GET", LOGS, logs_page([line(1, "one"), line(2, "two")], after + "c0002"))
    fake_api.on(
        "GET",
        LOGS,
        logs_page([line(1, "one"), line(2, "two")], after + "c0002"),
        logs_page([line(2, "two"), line(3, "three")], after + "c0003"),  # an overlap is not printed twice
        logs_page([line(4, "four")], after + "c0004"),
        logs_page([], after + "c0004"),
    )
    follower = Follower(fake_api.url, "--poll", "--interval", "0.01", "-n", "2")

    printed = follower.read(4)
    _wait_for(lambda: len(fake_api.requests) >= 6)  # the empty answer was served again
    rest, _ = follower.stop()

    assert [text.split(": ", 1)[1] for text in printed] == ["one", "two", "three", "four"]
    assert rest == ""
    assert [r.query for r in fake_api.requests[:4]] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "c0002"},
        {"limit": "2", "cursor": "c0003"},
        {"limit": "2", "cursor": "c0004"},
    ]


def test_tail_follows_the_websocket_and_resumes_from_the_cursor():
    from websockets.sync import server as sync_server  # pinned in requirements.txt

    connections: list[dict] = []

    def handler(connection):
        request = connection.request
        connections.append({"path": request.path, "auth": request.headers.get("Authorization")})
        if len(connections) == 1:
            connection.send(json.dumps({"type": "status", "dropped": 0, "cursor": None}))
            connection.send(json.dumps({"type": "lines", "history": True, "lines": [line(1, "history")]}))
            connection.send(json.dumps({"type": "lines", "history": False, "lines": [line(2, "live")]}))
            return  # the portal restarts: the client must reconnect with its cursor
        connection.send(json.dumps({"type": "lines", "lines": [line(2, "live")], "cursor": "c0002"}))  # not twice
        connection.send(json.dumps({"type": "lines", "lines": [line(3, "after reconnect")], "cursor": "c0003"}))
        for _ in connection:
            pass

    server = sync_server.serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.socket.getsockname()[1]
    try:
        follower = Follower(f"http://127.0.0.1:{port}", "--interval", "0.01", "-n", "5", "--grep", "o")
        printed = follower.read(3)
        follower.stop()
    finally:
        server.shutdown()

    assert [text.split(": ", 1)[1] for text in printed] == ["history", "live", "after reconnect"]
    assert connections[0] == {
        "path": "/ws/tenants/acme/apps/web/logs/?tail=5&q=o",
        "auth": "Bearer brt_testtoken",
    }
    assert connections[1]["path"] == "/ws/tenants/acme/apps/web/logs/?tail=5&cursor=c0002&q=o"


def test_tail_polls_when_the_portal_has_no_websocket(fake_api):
    # The fake API answers the WebSocket handshake with 404, as a WSGI-only portal would.
    fake_api.on("GET", LOGS, logs_page([line(1, "one")], f"{fake_api.url}{LOGS}?limit=1&cursor=c0001"))
    fake_api.on("GET", LOGS, logs_page([line(1, "one")], f"{fake_api.url}{LOGS}?cursor=c0001"), logs_page([]))
    follower = Follower(fake_api.url, "--interval", "0.01", "-n", "1")

    printed = follower.read(1)
    _wait_for(lambda: len(fake_api.calls("GET", LOGS)) >= 2)
    _, err = follower.stop()

    assert [text.split(": ", 1)[1] for text in printed] == ["one"]
    assert fake_api.requests[0].path == "/ws/tenants/acme/apps/web/logs/"
    assert f"no WebSocket at {fake_api.url}" in err
