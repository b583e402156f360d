"""From a build of an existing image to an app served by the router, through the services and both task queues."""

import pytest
from django.core.management import call_command

from deployments.engine import images
from deployments.engine.client import EngineSpec
from deployments.models import Build, BuildStatus, Deployment, DeploymentStatus, ReleaseStatus
from deployments.services.apps import app_create
from deployments.services.builds import build_create
from deployments.tests.factories import MembershipFactory, TenantFactory, UserFactory
from deployments.tests.integration.conftest import Traffic
from samples import sample_tag

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def work(queue: str) -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", queue, verbosity=0)


def test_an_image_build_becomes_a_release_rolled_out_behind_the_router(
    hosts, router, tenant_slug, registry_url, docker_engine_url
):
    # given: the sample image in the registry (a build pulls every outside reference, never the builder's cache)
    engine = EngineSpec(name="local", url=docker_engine_url)
    repository = f"{registry_url}/{tenant_slug}-src/httpd"
    images.tag(engine, image=sample_tag("httpd"), repository=repository, tag="1")
    images.push(engine, repository=repository, tag="1")
    tenant = TenantFactory(slug=tenant_slug)
    owner = MembershipFactory(tenant=tenant, user=UserFactory(), role="owner").user
    app = app_create(tenant=tenant, slug="shop", actor=owner)

    # when
    build = build_create(app=app, actor=owner, image=f"{repository}:1")
    work("builds")
    work("default")

    # then
    build = Build.objects.get(pk=build.pk)
    assert build.status == BuildStatus.SUCCEEDED, build.error
    created, deployment = Deployment.objects.filter(app=app).order_by("id")
    # v1, made when the app was created, was still queued when the build's release superseded it.
    assert (created.release.version, created.status) == (1, DeploymentStatus.SUPERSEDED)
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert deployment.release.status == ReleaseStatus.SUCCEEDED
    assert deployment.release.build_id == build.pk
    client = Traffic(port=router.port, path="/release.txt", host=f"shop.{tenant_slug}.localhost")
    assert client.get() == (200, f"v{deployment.release.version}\n")


def test_a_release_without_a_build_is_recorded_and_runs_nothing(hosts, router, tenant_slug):
    tenant = TenantFactory(slug=tenant_slug)
    owner = MembershipFactory(tenant=tenant, user=UserFactory(), role="owner").user
    app = app_create(tenant=tenant, slug="shop", actor=owner)

    work("default")

    deployment = Deployment.objects.get(app=app)
    assert (deployment.status, deployment.release.status) == (DeploymentStatus.SUCCEEDED, ReleaseStatus.SUCCEEDED)
    assert [(step["name"], step["detail"]) for step in deployment.steps] == [
        ("plan", "Release v1 has no build yet: nothing to run.")
    ]
    assert app.containers.count() == 0
