"""A container placed on a host the release's rollout did not use: the image is pulled there first, or the host is
not picked at all when it cannot get the image (and the refusal says why)."""

import pytest

from deployments.engine.fake import Behaviour
from deployments.models import LIVE_STATES, Container, DeploymentStatus, DockerHost, Formation, HostStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue, scale_enqueue

pytestmark = pytest.mark.django_db


def _scale(app, quantity):
    Formation.objects.update_or_create(app=app, process_type="web", defaults={"quantity": quantity})
    deployment = scale_enqueue(app_id=app.pk)
    return deployment_execute(deployment_id=deployment.pk)


def _where(app):
    rows = Container.objects.filter(app=app, state__in=LIVE_STATES).order_by("index")
    return [(row.index, row.host.name) for row in rows]


def test_a_scale_onto_a_host_the_rollout_did_not_use_pulls_the_image_there_first(app, deploy, engine):
    # given: v1 runs on host a only; host b has never seen its image
    deploy(1, quantity=1)
    image = app.releases.get(version=1).build.image
    assert _where(app) == [(1, "a")]
    assert image not in engine.host("b").images

    # when
    deployment = _scale(app, 2)

    # then: b pulled the image before web.2 started there
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert _where(app) == [(1, "a"), (2, "b")]
    calls_on_b = [call for call, host, _about in engine.calls if host == "b"]
    assert calls_on_b.index("image_ensure") < calls_on_b.index("container_start")
    assert image in engine.host("b").images


def test_a_host_that_cannot_get_the_image_is_never_picked(app, deploy, engine):
    # given: an image with no registry to pull it from, present on host a only
    release = deploy.release(1, quantity=1)
    engine.behaviour(release.build.image, Behaviour(), pullable=False)
    engine.pullable.discard(release.build.image)
    engine.host("a").images.add(release.build.image)

    # when: the rollout, then a scale to 3 (spreading would put web.2 on b)
    deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    deployment = _scale(app, 3)

    # then: everything on a, nothing tried on b
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert _where(app) == [(1, "a"), (2, "a"), (3, "a")]
    assert [call for call, host, _ in engine.calls if host == "b"] == ["image_reachable", "image_reachable"]


def test_a_scale_with_no_host_able_to_get_the_image_fails_and_says_why(app, deploy, engine):
    release = deploy.release(1, quantity=1)
    image = release.build.image
    engine.pullable.discard(image)
    engine.host("a").images.add(image)
    deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    DockerHost.objects.filter(name="a").update(status=HostStatus.DRAINING)

    deployment = _scale(app, 2)

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == (
        f"No ready host can get the release's image: b: image {image} is not on b and its registry did not give it: "
        "not found."
    )
    assert _where(app) == [(1, "a")]
