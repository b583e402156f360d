"""A real fleet for rollout tests: two Docker hosts, HAProxy as the router, and traffic counters.

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

from deployments.engine import secret_files
from deployments.engine.labels import TENANT_LABEL, label_filter
from deployments.models import DockerHost
from deployments.router import router as configured_router
from deployments.tests.factories import AppFactory, ReleaseFactory, TenantFactory, web_formation
from samples import sample_tag


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def router(settings, haproxy_bin):
    """HAProxy under its own prefix on free loopback ports; stopped after the test."""
    prefix = Path(settings.DATA_DIR) / f"router-{secrets.token_hex(4)}"
    prefix.mkdir(parents=True, mode=0o755)
    settings.BERTH_ROUTER_DIR = str(prefix)
    settings.BERTH_ROUTER_PORT = _free_port()
    settings.BERTH_ROUTER_TLS_PORT = _free_port()
    settings.BERTH_HAPROXY = haproxy_bin
    haproxy = configured_router()
    yield haproxy
    haproxy.stop()


@pytest.fixture
def tenant_slug(docker_engine_url, second_docker_engine_url):
    """A unique tenant slug; afterwards its containers (with their secret files) and networks are removed."""
    slug = f"rt{secrets.token_hex(4)}"
    yield slug
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=60)
        try:
            for container in client.containers.list(all=True, filters={"label": label_filter(TENANT_LABEL, slug)}):
                volumes = secret_files.volumes_of(container.attrs)
                container.remove(force=True)
                secret_files.release(client.api, container_id=container.id, volumes=volumes)
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
    def make(*, image: str = sample_tag("httpd"), formation: dict | None = None, **fields):
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
    """A client loop sending requests through the router, counting every outcome.

    By default each request opens a new connection; with `keepalive` one connection is reused for every request,
    as a browser or a pooled HTTP client does, and is reopened only after the router answered `Connection: close`
    (a reused connection failing is a failed request: the client cannot know whether its request was handled).
    """

    port: int
    path: str
    host: str
    keepalive: bool = False
    ok: int = 0
    failed: int = 0
    connections: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _connection: http.client.HTTPConnection | None = None

    def get(self) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", self.path, headers={"Host": self.host, "Connection": "close"})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def _get_kept_alive(self) -> tuple[int, str]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.connections += 1
        try:
            self._connection.request("GET", self.path, headers={"Host": self.host})
            response = self._connection.getresponse()
            answer = response.status, response.read().decode()
        except BaseException:
            self._connection.close()
            self._connection = None
            raise
        if response.will_close:
            self._connection.close()
            self._connection = None
        return answer

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = self._get_kept_alive() if self.keepalive else self.get()
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
        if self._connection is not None:
            self._connection.close()


@pytest.fixture
def traffic(router, app):
    def make(path: str = "/release.txt", *, keepalive: bool = False) -> Traffic:
        return Traffic(port=router.port, path=path, host=f"web.{app.tenant.slug}.localhost", keepalive=keepalive)

    return make
