"""A real fleet for rollout tests: two Docker hosts, nginx as the router, and a traffic counter.

Every tenant a test creates has a unique slug; teardown removes only the containers and networks that carry it.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from deployments.engine.labels import TENANT_LABEL, label_filter
from deployments.models import DockerHost
from deployments.router import router as configured_router
from deployments.tests.factories import AppFactory, ReleaseFactory, TenantFactory, web_formation


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def router(settings, nginx_bin):
    """nginx under its own prefix on a free loopback port; stopped after the test."""
    prefix = Path(settings.DATA_DIR) / f"router-{secrets.token_hex(4)}"
    prefix.mkdir(parents=True, mode=0o755)
    settings.BERTH_ROUTER_DIR = str(prefix)
    settings.BERTH_ROUTER_PORT = _free_port()
    settings.BERTH_NGINX = nginx_bin
    nginx = configured_router()
    yield nginx
    nginx.stop()


@pytest.fixture
def tenant_slug(docker_engine_url, second_docker_engine_url):
    """A unique tenant slug; afterwards its containers and networks are removed from both engines."""
    slug = f"rt{secrets.token_hex(4)}"
    yield slug
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=60)
        try:
            for container in client.containers.list(all=True, filters={"label": label_filter(TENANT_LABEL, slug)}):
                container.remove(force=True)
            for network in client.networks.list(names=[f"berth-{slug}"]):
                network.remove()
        finally:
            client.close()


def engine_containers(url: str, slug: str) -> list:
    client = docker.DockerClient(base_url=url, timeout=60)
    try:
        return client.containers.list(all=True, filters={"label": label_filter(TENANT_LABEL, slug)})
    finally:
        client.close()


@pytest.fixture
def hosts(db, docker_engine_url, second_docker_engine_url, sample_image):
    """Two ready hosts, each holding the sample images (the second engine shares nothing with the first)."""
    for name in ("httpd", "unhealthy"):
        sample_image(name)
        sample_image(name, engine_url=second_docker_engine_url)
    return [
        DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1"),
        DockerHost.objects.create(name="second", engine_url=second_docker_engine_url, address="127.0.0.1"),
    ]


@pytest.fixture
def app(tenant_slug):
    tenant = TenantFactory(slug=tenant_slug)
    return AppFactory(tenant=tenant, slug="web")


@pytest.fixture
def make_release(app):
    def make(*, image: str = "berth-test/httpd:latest", formation: dict | None = None, **fields):
        version = app.releases.count() + 1
        return ReleaseFactory(
            app=app,
            version=version,
            build__image=image,
            build__number=version,
            build__process_types={},
            formation=formation or web_formation(),
            **fields,
        )

    return make


@dataclass
class Traffic:
    """A client loop sending requests through the router, one new connection each, counting every outcome."""

    port: int
    path: str
    host: str
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def get(self) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", self.path, headers={"Host": self.host, "Connection": "close"})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = self.get()
                if status == 200:
                    self.ok += 1
                    self.bodies.add(body.strip())
                else:
                    self.failed += 1
                    self.failures.append(f"HTTP {status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failed += 1
                self.failures.append(repr(exc))

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def traffic(router, app):
    def make(path: str = "/release.txt") -> Traffic:
        return Traffic(port=router.port, path=path, host=f"web.{app.tenant.slug}.localhost")

    return make
