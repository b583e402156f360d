"""The real portal for browser tests: `manage.py serve` (ASGI, task workers, log collector, router) in a subprocess
on the test database, with the local dockerd registered as its host."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from deployments.router.haproxy import HAProxy

REPO_DIR = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PortalServer:
    url: str
    router_port: int
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        """Stop the server, then its router: HAProxy outlives `manage.py serve` by design (`make run` keeps the apps
        serving while the portal restarts), so the test stops it as `make stop` would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        HAProxy(prefix=self.log_path.parent / "router", port=self.router_port, tls_port=0).stop()


def _database_url() -> str:
    """The URL of the database the test runs on (pytest-django's test database), for the server to share it."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail(
            "the portal browser tests share the test database with a server process: set DATABASE_URL to PostgreSQL",
            pytrace=False,
        )
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_portal(data_dir: Path, *, registry: str, env: dict[str, str] | None = None) -> PortalServer:
    """Start `manage.py serve` on free ports; `env` adds to or overrides the server's environment."""
    port, router_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "BERTH_DATA_DIR": str(data_dir),
        "BERTH_PORT": str(port),
        "BERTH_ROUTER_PORT": str(router_port),
        "BERTH_ROUTER_TLS_PORT": str(free_port()),
        "BERTH_REGISTRY": registry,
        # Other suites share the engine: this server collects no garbage.
        "BERTH_GC_INTERVAL": "0",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **(env or {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log_path = data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO_DIR / "manage.py"), "serve", "--port", str(port)],
            cwd=REPO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PortalServer(url=f"http://127.0.0.1:{port}", router_port=router_port, process=process, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"manage.py serve exited with {process.returncode}:\n{server.output()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    pytest.fail(f"manage.py serve did not answer on {server.url} within 60 s:\n{server.output()}", pytrace=False)
