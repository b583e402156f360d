"""Fixtures of the fault tests: two dockerds of their own (started empty), an image in the registry, a fleet."""

from __future__ import annotations

import secrets
import threading

import docker
import pytest
from django.db import connection

from deployments.models import DockerHost
from deployments.services import routes
from deployments.tests.factories import AppFactory, ReleaseFactory, TenantFactory, web_formation
from deployments.tests.faults.engines import OwnEngine
from deployments.tests.integration.conftest import router, traffic  # noqa: F401 - the same router and traffic loop


@pytest.fixture(scope="session")
def own_engines(tmp_path_factory) -> list[OwnEngine]:
    """Two dockerds of the fault tests' own; stopped at the end of the session."""
    log_dir = tmp_path_factory.mktemp("own-dockerd")
    engines = [OwnEngine(number=1, log_dir=log_dir), OwnEngine(number=2, log_dir=log_dir)]
    try:
        for engine in engines:
            engine.start()
    except RuntimeError as error:
        for engine in engines:
            engine.stop()
        pytest.fail(str(error), pytrace=False)
    yield engines
    for engine in engines:
        engine.stop()


@pytest.fixture
def engines(own_engines):
    """The two own engines, running (a test that stopped or paused one leaves it to be started again here)."""
    for engine in own_engines:
        engine.start()
    return own_engines


@pytest.fixture(scope="session")
def registry_image(sample_image, registry_url, docker_engine_url) -> str:
    """The httpd sample pushed to the registry as `<registry>/berth-faults/httpd:1`: what the own engines pull."""
    local = sample_image("httpd")
    reference = f"{registry_url}/berth-faults/httpd"
    client = docker.DockerClient(base_url=docker_engine_url, timeout=120)
    try:
        client.images.get(local).tag(reference, tag="1")
        for chunk in client.api.push(reference, tag="1", stream=True, decode=True):
            if "error" in chunk:
                pytest.fail(f"pushing {reference}:1 failed: {chunk['error']}", pytrace=False)
    finally:
        client.close()
    return f"{reference}:1"


@pytest.fixture
def tenant_slug(engines):
    slug = f"ft{secrets.token_hex(4)}"
    yield slug
    for engine in engines:
        engine.remove_tenant(slug)


@pytest.fixture
def hosts(db, engines, registry_image):
    """The two own engines as Berth's ready hosts `first` and `second`, neither holding the release image."""
    for engine in engines:
        engine.image_remove(registry_image)
    return [
        DockerHost.objects.create(name="first", engine_url=engines[0].url, address="127.0.0.1"),
        DockerHost.objects.create(name="second", engine_url=engines[1].url, address="127.0.0.1"),
    ]


@pytest.fixture
def app(tenant_slug):
    return AppFactory(tenant=TenantFactory(slug=tenant_slug), slug="web")


@pytest.fixture
def make_release(app, registry_image):
    def make(*, image: str = registry_image, formation: dict | None = None, **fields):
        version = app.releases.count() + 1
        return ReleaseFactory(
            app=app,
            version=version,
            build__image=image,
            build__number=version,
            build__process_types={},
            formation=formation or web_formation(quantity=1),
            **fields,
        )

    return make


@pytest.fixture
def router_loop(router, settings):  # noqa: F811 - the integration tests' router fixture, imported above
    """The router as its own loop (`manage.py router` does this), so workers in other processes wait for it."""
    settings.BERTH_ROUTER_INLINE = False
    stop = threading.Event()

    def run():
        try:
            routes.router_loop(name="faults-router", haproxy=router, stop=stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield router
    stop.set()
    thread.join(timeout=30)
