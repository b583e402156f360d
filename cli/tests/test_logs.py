"""logs: history through the HTTP API, following by polling, and following the WebSocket."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from .fakeapi import page

LOGS = "/api/v1/tenants/acme/apps/web/logs/"
BERTH = Path(__file__).resolve().parent.parent / "berth"


def line(ident: int, second: int, text: str, process: str = "web") -> dict:
    return {
        "id": ident,
        "timestamp": f"2026-11-28T02:00:{second:02d}Z",
        "process": process,
        "container": "3f2a1c0d9e8b77aa",
        "release": 3,
        "stream": "stdout",
        "line": text,
    }


def test_logs_prints_history_oldest_first(berth, fake_api):
    fake_api.on("GET", LOGS, page([line(2, 1, "second\n"), line(1, 0, "first")]))

    code, out, _ = berth("logs", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == ("2026-11-28 02:00:00Z web[3f2a1c0d9e8b]: first\n2026-11-28 02:00:01Z web[3f2a1c0d9e8b]: second\n")
    assert fake_api.requests[0].query == {"limit": "100"}


def test_logs_passes_filters_and_reads_pages_up_to_n(berth, fake_api):
    fake_api.on(
        "GET",
        LOGS,
        page([line(3, 2, "c GET /")], f"{fake_api.url}{LOGS}?cursor=p2"),
        page([line(2, 1, "b GET /"), line(1, 0, "a GET /")]),
    )

    code, out, _ = berth("logs", "-t", "acme", "-a", "web", "-n", "2", "--process", "web", "--grep", "GET")

    assert code == 0
    assert fake_api.requests[0].query == {"limit": "2", "process": "web", "q": "GET"}
    assert fake_api.requests[1].query == {"cursor": "p2"}
    assert out.splitlines() == [
        "2026-11-28 02:00:01Z web[3f2a1c0d9e8b]: b GET /",
        "2026-11-28 02:00:02Z web[3f2a1c0d9e8b]: c GET /",
    ]


def test_logs_json_is_one_object_per_line(berth, fake_api):
    fake_api.on("GET", LOGS, page([line(1, 0, "hello")]))

    _, out, _ = berth("logs", "-t", "acme", "-a", "web", "--json")

    assert [json.loads(text) for text in out.splitlines()] == [line(1, 0, "hello")]


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

    def stop(self) -> str:
        self.process.terminate()
        rest, _ = self.process.communicate()
        self._guard.cancel()
        return rest


def _wait_for(condition) -> None:
    event = threading.Event()
    while not condition():
        event.wait(0.02)


def test_tail_polls_since_the_newest_line_and_never_repeats_one(fake_api):
    fake_api.on(
        "GET",
        LOGS,
        page([line(2, 1, "two"), line(1, 0, "one")]),
        page([line(3, 1, "three, same second"), line(2, 1, "two")]),
        page([line(4, 5, "four"), line(3, 1, "three, same second")]),
    )
    follower = Follower(fake_api.url, "--poll", "--interval", "0.01", "-n", "2")

    printed = follower.read(4)
    _wait_for(lambda: len(fake_api.requests) >= 6)  # the last answer was served again at least twice
    rest = follower.stop()

    assert [text.split(": ", 1)[1] for text in printed] == ["one", "two", "three, same second", "four"]
    assert rest == ""
    assert fake_api.requests[1].query == {"since": "2026-11-28T02:00:01Z", "limit": "500"}
    assert fake_api.requests[3].query == {"since": "2026-11-28T02:00:05Z", "limit": "500"}


def test_tail_follows_the_websocket_and_resumes_from_the_cursor():
    from websockets.sync import server as sync_server  # pinned in requirements.txt

    connections: list[dict] = []

    def handler(connection):
        request = connection.request
        connections.append({"path": request.path, "auth": request.headers.get("Authorization")})
        if len(connections) == 1:
            connection.send(json.dumps({"lines": [line(1, 0, "history")]}))
            connection.send(json.dumps(line(2, 1, "live")))
            return  # the portal restarts: the client must reconnect with its cursor
        connection.send(json.dumps({"type": "line", "line": line(2, 1, "live")}))  # resent: not printed twice
        connection.send(json.dumps({"type": "line", "line": line(3, 2, "after reconnect")}))
        for _ in connection:
            pass

    server = sync_server.serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.socket.getsockname()[1]
    try:
        follower = Follower(f"http://127.0.0.1:{port}", "--interval", "0.01", "-n", "5", "--process", "web")
        printed = follower.read(3)
        follower.stop()
    finally:
        server.shutdown()

    assert [text.split(": ", 1)[1] for text in printed] == ["history", "live", "after reconnect"]
    assert connections[0] == {
        "path": "/ws/tenants/acme/apps/web/logs/?tail=5&process=web",
        "auth": "Bearer brt_testtoken",
    }
    assert connections[1]["path"] == "/ws/tenants/acme/apps/web/logs/?tail=5&cursor=2&process=web"
