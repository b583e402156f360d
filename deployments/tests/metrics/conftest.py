"""Fixtures of the sampler tests on the real dockerd: an app of unique slugs and containers labelled for it."""

import uuid

import pytest

from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL
from deployments.tests.factories import AppFactory, TenantFactory
from deployments.tests.logs.docker_helpers import Containers


def labels_for(app, *, index: int = 1, process: str = "worker") -> dict[str, str]:
    """The labels Berth puts on a container of `app`, so the sampler takes it for one of the app's."""
    return {
        TENANT_LABEL: app.tenant.slug,
        APP_LABEL: app.slug,
        RELEASE_LABEL: "1",
        PROCESS_LABEL: process,
        INDEX_LABEL: str(index),
    }


@pytest.fixture
def target():
    # Unique slugs: other sessions' containers on the same engine must not be taken for this app's.
    tenant = TenantFactory(slug=f"mt-{uuid.uuid4().hex[:8]}")
    return AppFactory(tenant=tenant, slug="web")


@pytest.fixture
def start(docker_engine_url, sample_image):
    """Return start(app, command, index=1, **options) -> a running container of the sample worker image, removed
    at the end; `options` are the SDK's (limits, tmpfs...)."""
    containers = Containers(docker_engine_url)

    def run(app, command, *, index: int = 1, **options):
        container = containers.client.containers.run(
            sample_image("worker"),
            command,
            name=f"berth-metrics-test-{uuid.uuid4().hex[:8]}",
            detach=True,
            labels=labels_for(app, index=index),
            init=True,
            **options,
        )
        containers.started.append(container.id)
        return container

    yield run
    containers.close()
