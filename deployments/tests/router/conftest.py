"""Real HAProxy routers and small loopback upstreams for the router's tests (no Docker needed)."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deployments.router import HAProxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Upstream:
    """An app server on loopback: `/` answers its name, `/headers` the request headers as JSON, `/slow` after 2 s."""

    def __init__(self, name: str):
        self.name = name
        self.answered: list[str] = []
        self.slow_arrived = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/slow":
                    upstream.slow_arrived.set()
                    time.sleep(2)
                if self.path == "/headers":
                    self._answer(json.dumps(dict(self.headers.items())).encode())
                else:
                    self._answer(f"{upstream.name}\n".encode())
                upstream.answered.append(self.path)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received = 0
                while received < length:
                    received += len(self.rfile.read(min(65536, length - received)))
                self._answer(f"{upstream.name} got {received}\n".encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams():
    """Return `make(name) -> Upstream`; every upstream is shut down after the test."""
    made = []

    def make(name: str) -> Upstream:
        made.append(Upstream(name))
        return made[-1]

    yield make
    for upstream in made:
        upstream.close()


@pytest.fixture
def make_haproxy(haproxy_bin, settings):
    """Return `make(**options) -> HAProxy` under a fresh prefix on free ports; all are stopped after the test."""
    made = []

    def make(prefix: Path | None = None, **options) -> HAProxy:
        if prefix is None:
            prefix = Path(settings.DATA_DIR) / f"router-unit-{secrets.token_hex(4)}"
            prefix.mkdir(parents=True, mode=0o755)
        options.setdefault("port", free_port())
        options.setdefault("tls_port", free_port())
        made.append(HAProxy(prefix=prefix, binary=haproxy_bin, **options))
        return made[-1]

    yield make
    for haproxy in made:
        haproxy.stop()


@pytest.fixture
def haproxy(make_haproxy):
    return make_haproxy()


def request(port: int, host: str, path: str = "/", *, method: str = "GET", body: bytes | None = None, headers=None):
    """One request on a new connection: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
