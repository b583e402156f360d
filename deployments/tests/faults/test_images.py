"""Hosts that start with no image: a scale (or repair) onto a host the rollout did not use pulls the image first, and a
host that cannot get the image is never picked."""

import pytest

from deployments.models import LIVE_STATES, Container, DeploymentStatus, Formation
from deployments.services.rollouts import deployment_execute, rollout_enqueue, scale_enqueue

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _where(app):
    rows = Container.objects.filter(app=app, state__in=LIVE_STATES).order_by("index")
    return [(row.index, row.host.name) for row in rows]


def test_a_scale_onto_a_host_without_the_image_pulls_it_there_and_serves(
    hosts, engines, router, app, make_release, traffic, registry_image
):
    # given: v1 rolled out with one container; the other host never held the image
    release = make_release()
    assert deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk).status == "succeeded"
    [(index, used)] = _where(app)
    assert index == 1
    unused = engines[1] if used == "first" else engines[0]
    assert unused.client().images.list(name=registry_image.rsplit(":", 1)[0]) == []

    # when
    Formation.objects.update_or_create(app=app, process_type="web", defaults={"quantity": 2})
    deployment = deployment_execute(deployment_id=scale_enqueue(app_id=app.pk).pk)

    # then: one container on each host, both serving through the router
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert sorted(host for _index, host in _where(app)) == ["first", "second"]
    assert [image.tags for image in unused.client().images.list(name=registry_image.rsplit(":", 1)[0])] == [
        [registry_image]
    ]
    ports = set(Container.objects.filter(app=app, state="running").values_list("host_port", flat=True))
    assert len(ports) == 2
    loop = traffic()
    assert [loop.get() for _ in range(4)] == [(200, "v1\n")] * 4


def test_no_host_is_picked_for_an_image_none_can_get_and_the_rollout_says_why(hosts, router, app, make_release):
    # given: an image on the shared engine only, named after no registry
    release = make_release(image="berth-test/httpd:latest")

    # when
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)

    # then
    assert deployment.status == DeploymentStatus.FAILED
    why = (
        "image berth-test/httpd:latest is not on {host} and its name names no registry to pull it from "
        "(set BERTH_REGISTRY so builds are pushed where every host can pull them)"
    )
    assert deployment.error == (
        f"No ready host can get the release's image: first: {why.format(host='first')}; "
        f"second: {why.format(host='second')}."
    )
    assert Container.objects.filter(app=app).count() == 0
