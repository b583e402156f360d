"""Fixtures of the build tests: an app of a fresh tenant, its developer, and a builder that cleans up its images."""

import uuid

import pytest

from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE, EngineSpec
from deployments.models import Build
from deployments.tests.factories import AppFactory, MembershipFactory


@pytest.fixture
def app():
    """An app of a tenant with a name no other test run uses, so its images are ours alone."""
    membership = MembershipFactory(tenant__slug=f"bbt{uuid.uuid4().hex[:10]}", user__username="dev")
    return AppFactory(tenant=membership.tenant, slug="web")


@pytest.fixture
def developer(app):
    return app.tenant.memberships.get().user


@pytest.fixture
def builder(settings, tmp_path, docker_engine_url, registry_url, app):
    """Builds on the main dockerd, pushing to the test registry; removes every image the test's builds made."""
    settings.BERTH_REGISTRY = registry_url
    settings.DATA_DIR = tmp_path / "data"
    extra_engines: list[EngineSpec] = []
    yield extra_engines
    for build in Build.objects.filter(app=app).exclude(image=""):
        for spec in [LOCAL_ENGINE, *extra_engines]:
            images.remove(spec, build.image)
