"""Bad input fails with a message the user can act on, and leaves nothing behind on the hosts."""

import pytest

from deployments.engine.labels import PROCESS_LABEL, RELEASE_LABEL
from deployments.models import Container, DeploymentStatus, DockerHost, ReleaseStatus
from deployments.services.hosts import host_create
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.integration.conftest import engine_containers
from portal.errors import ApplicationError

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


@pytest.fixture
def nothing_left(tenant_slug, docker_engine_url, second_docker_engine_url):
    def check() -> list:
        return engine_containers(docker_engine_url, tenant_slug) + engine_containers(
            second_docker_engine_url, tenant_slug
        )

    return check


def test_an_unknown_image_fails_the_rollout_and_starts_nothing(hosts, router, app, make_release, nothing_left):
    release = make_release(image="berth-test/no-such-image:latest")

    deployment = deploy(release)

    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert release.status == ReleaseStatus.FAILED
    # Placement asks every ready host first and names each one with its reason.
    assert "No ready host can get the release's image" in release.error
    assert "image berth-test/no-such-image:latest is not on" in release.error
    assert "names no registry to pull it from" in release.error
    assert nothing_left() == []
    assert Container.objects.filter(app=app).count() == 0


def test_a_formation_above_the_quota_fails_before_touching_the_hosts(hosts, router, app, make_release, nothing_left):
    app.tenant.max_containers = 3
    app.tenant.save()
    release = make_release(formation=web_formation(quantity=4))

    deployment = deploy(release)

    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert release.error == (
        f"The formation asks for 4 containers, but tenant {app.tenant.slug}'s quota allows 3 and its other apps "
        "run 0: scale down, or ask for a larger quota."
    )
    assert [step["name"] for step in deployment.steps] == ["plan"]
    assert nothing_left() == []


def test_an_app_without_a_web_process_is_refused(hosts, router, app, make_release, nothing_left):
    formation = {"worker": web_formation()["web"]}
    release = make_release(formation=formation)

    deployment = deploy(release)

    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert release.error.startswith(f"Release v{release.version} has no web process")
    assert "add a `web:` line to the Procfile" in release.error
    assert nothing_left() == []


def test_a_failing_release_command_stops_the_rollout_and_the_old_release_keeps_serving(
    hosts, router, app, make_release, traffic, nothing_left
):
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    release = make_release(release_command="/bin/sh -c 'echo migrating; exit 3'")

    deployment = deploy(release)

    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert release.error.startswith("The release command `/bin/sh -c 'echo migrating; exit 3'` exited with status 3")
    assert "migrating" in release.error
    assert [step["name"] for step in deployment.steps] == ["plan", "prepare", "release"]
    assert sorted(c.labels[RELEASE_LABEL] for c in nothing_left()) == ["1", "1"]
    assert traffic().get() == (200, "v1\n")


def test_a_release_command_runs_before_the_new_containers(hosts, router, app, make_release, nothing_left):
    release = make_release(release_command="/bin/sh -c 'echo migrated'")

    deployment = deploy(release)

    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert [step["name"] for step in deployment.steps] == [
        "plan",
        "prepare",
        "release",
        "start",
        "route",
        "drain",
    ]
    assert sorted(c.labels[PROCESS_LABEL] for c in nothing_left()) == ["web", "web"]


def test_a_host_whose_engine_does_not_answer_is_not_added(db, tmp_path):
    with pytest.raises(ApplicationError) as raised:
        host_create(actor=None, name="ghost", engine_url=f"unix://{tmp_path}/no-engine.sock")

    assert raised.value.code == "engine_unreachable"
    assert raised.value.message.startswith(f"The engine at unix://{tmp_path}/no-engine.sock did not answer")
    assert DockerHost.objects.count() == 0


def test_a_tcp_host_without_tls_certificates_is_refused(db):
    with pytest.raises(ApplicationError) as raised:
        host_create(actor=None, name="plain", engine_url="tcp://127.0.0.1:2375")

    assert "needs TLS client certificates" in raised.value.message
    assert DockerHost.objects.count() == 0
