"""Rollouts on the in-memory engine and router: two ready hosts, an app, and a way to deploy and to kill the worker."""

from __future__ import annotations

import pytest

from deployments.engine import fake as fake_engine_module
from deployments.engine.fake import Behaviour, FakeEngine
from deployments.models import Deployment
from deployments.router import fake as fake_router_module
from deployments.router.fake import FakeRouter
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import AppFactory, BuildFactory, DockerHostFactory, ReleaseFactory, web_formation

IMAGE = "registry.test/acme/web:{version}"


@pytest.fixture
def engine(settings) -> FakeEngine:
    settings.BERTH_ENGINE = "fake"
    settings.BERTH_ROUTER = "fake"
    settings.BERTH_ROUTER_INLINE = True
    fake = FakeEngine()
    previous = fake_engine_module.install(fake)
    yield fake
    fake.close()
    fake_engine_module.install(previous)


@pytest.fixture
def router(engine) -> FakeRouter:
    fake = FakeRouter()
    previous = fake_router_module.install(fake)
    yield fake
    fake_router_module.install(previous)


@pytest.fixture
def hosts(engine, router):
    return [DockerHostFactory(name="a"), DockerHostFactory(name="b")]


@pytest.fixture
def app(hosts):
    return AppFactory(slug="web")


@pytest.fixture
def deploy(app, engine):
    """Return deploy(version, behaviour=Behaviour(), **formation) -> Deployment: a release of that image, rolled out."""

    def make_release(version: int, behaviour: Behaviour | None = None, release_command: str = "", **formation):
        image = IMAGE.format(version=version)
        engine.behaviour(image, behaviour or Behaviour())
        build = BuildFactory(app=app, image=image)
        return ReleaseFactory(
            app=app,
            version=version,
            build=build,
            release_command=release_command,
            formation=web_formation(**{"healthcheck_timeout": 1, **formation}),
        )

    def deploy(version: int, behaviour: Behaviour | None = None, release_command: str = "", **formation) -> Deployment:
        release = make_release(version, behaviour, release_command, **formation)
        deployment = rollout_enqueue(release_id=release.pk)
        return deployment_execute(deployment_id=deployment.pk)

    deploy.release = make_release
    return deploy
