"""A router for the ACME tests until the HAProxy driver lands: it keeps certificates in memory and answers HTTP-01.

It runs the routers' protocol for real: a thread polls the routes version, applies the TLS state with
services.tls.tls_sync, and reports the version it serves (RouterNode), so an order's `routes_switch`
waits for it exactly as it waits for a real router machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

from deployments.services.routes import router_report, routing_version
from deployments.services.tls import tls_sync
from deployments.tests.tls import FakeTlsRouter

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


class ChallengeRouter(FakeTlsRouter):
    """FakeTlsRouter plus an HTTP server on 127.0.0.1:`port` answering the challenges it was given."""

    def __init__(self, port: int, *, answer_wrong: bool = False):
        super().__init__()
        self.answer_wrong = answer_wrong
        self.requests: list[tuple[str, str]] = []
        router = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                router.requests.append((self.headers.get("Host", ""), self.path))
                token = self.path[len(CHALLENGE_PREFIX) :] if self.path.startswith(CHALLENGE_PREFIX) else None
                body = router.challenges.get(token) if token else None
                if body is None:
                    self.send_error(404)
                    return
                payload = (body + "-wrong" if router.answer_wrong else body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def wait_until(self, condition, timeout: float = 5.0) -> None:
        """Return once `condition()` holds (the follower thread applies changes within 0.05 s); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"the test router did not get there within {timeout} s: {self.calls}")
            time.sleep(0.02)


@contextlib.contextmanager
def following(router, name: str = "test-acme-router"):
    """Keep a router driver in step with the database (tls_sync and a report per routes version) in a thread."""
    stop = threading.Event()

    def follow():
        try:
            while not stop.is_set():
                version = routing_version()
                tls_sync(router=router)
                router_report(name=name, version=version)
                stop.wait(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        yield router
    finally:
        stop.set()
        thread.join(timeout=10)


@contextlib.contextmanager
def serving(router: ChallengeRouter, name: str = "test-acme-router"):
    """Serve `router` over HTTP and keep it in step with the database until the block ends."""
    thread = threading.Thread(target=router.server.serve_forever, daemon=True)
    thread.start()
    try:
        with following(router, name):
            yield router
    finally:
        router.server.shutdown()
        router.server.server_close()
        thread.join(timeout=10)
