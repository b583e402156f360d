"""A build travels to a host that never saw it: built on the builder, pushed, pulled by a rollout, served."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deployments.engine import images
from deployments.engine.client import EngineSpec
from deployments.models import BuildStatus, Container, ContainerState, Deployment, DeploymentStatus, DockerHost
from deployments.services.builds import build_create, build_execute
from deployments.services.rollouts import deployment_execute
from deployments.tests.factories import FormationFactory, MembershipFactory
from deployments.tests.integration.conftest import engine_containers
from samples import context_tarball

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fleet(docker_engine_url, second_docker_engine_url):
    """The main engine as the builder and a second engine, both ready to run containers."""
    return [
        DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1", is_builder=True),
        DockerHost.objects.create(name="second", engine_url=second_docker_engine_url, address="127.0.0.1"),
    ]


def test_a_tarball_build_is_rolled_out_to_a_host_that_pulls_it_from_the_registry(
    fleet, router, app, traffic, settings, registry_url, docker_engine_url, second_docker_engine_url, tenant_slug
):
    # given: two web containers wanted, one per host
    settings.BERTH_REGISTRY = registry_url
    FormationFactory(app=app, process_type="web", quantity=2, memory_mb=64)
    developer = MembershipFactory(tenant=app.tenant, user__username=f"{tenant_slug}-dev").user
    second = EngineSpec(name="second", url=second_docker_engine_url)
    image = f"{registry_url}/{tenant_slug}/web:1"
    assert not images.exists(second, image)

    try:
        # when: the build runs on the builder, its release is created and its rollout is queued on commit
        build = build_create(
            app=app, actor=developer, archive_file=SimpleUploadedFile("httpd.tar.gz", context_tarball("httpd"))
        )
        build = build_execute(build_id=build.pk)
        assert build.status == BuildStatus.SUCCEEDED, build.log
        deployment = Deployment.objects.get(app=app, release__build=build)
        deployment = deployment_execute(deployment_id=deployment.pk)

        # then: both hosts run it, the second one having pulled it from the registry, and the router serves it
        assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
        assert build.image == image
        assert images.exists(second, image)
        assert f"{registry_url}/{tenant_slug}/web@{build.digest}" in images.inspect(second, image)["RepoDigests"]
        running = Container.objects.filter(app=app, state=ContainerState.RUNNING)
        assert sorted(running.values_list("host__name", flat=True)) == ["local", "second"]
        assert len(engine_containers(second_docker_engine_url, tenant_slug)) == 1
        status, body = traffic().get()
        assert (status, body.strip()) == (200, "v1")
    finally:
        for container_url in (docker_engine_url, second_docker_engine_url):
            for container in engine_containers(container_url, tenant_slug):
                container.remove(force=True)
        for spec in (EngineSpec(name="local", url=docker_engine_url), second):
            images.remove(spec, image)
