"""A worker killed at each step of a rollout: the reconciler's next pass converges the app.

Never half old, half new; never two containers of one (process, index); the router serves exactly what runs.
"""

import pytest

from deployments.engine.fake import Behaviour
from deployments.models import LIVE_STATES, Container, DeploymentStatus, ReleaseStatus
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.services.rollouts.recovery import STALE_AFTER
from deployments.tests.services.rollouts.world import age, serving, worker_killed_at

pytestmark = pytest.mark.django_db

# (the call the worker dies at, which time it makes it, the release serving after the next pass)
BEFORE_THE_SWITCH = [
    pytest.param("image_ensure", 1, id="prepare: image on the first host"),
    pytest.param("oneoff_run", 1, id="release phase"),
    pytest.param("container_start", 1, id="start: before the first container exists"),
    pytest.param("container_start", 2, id="start: one container created, not yet recorded"),
    pytest.param("container_state", 1, id="start: health check of a created container"),
]
AFTER_THE_SWITCH = [
    pytest.param("apply", 1, id="route: switch committed, routers not told"),
    pytest.param("wait_exited", 1, id="route: routers serve the new routes, old workers draining"),
    pytest.param("container_stop", 1, id="drain: the first old container"),
    pytest.param("container_stop", 2, id="drain: one old container stopped"),
]


def _killed_rollout(app, deploy, engine, router, call, nth):
    deploy(1)
    release = deploy.release(2, Behaviour(), release_command="migrate")
    deployment = rollout_enqueue(release_id=release.pk)
    with worker_killed_at(engine, router, call, nth):
        deployment_execute(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING  # the dead worker finished nothing
    return deployment


def _next_pass(deployment):
    # A pass before the deployment looks stale leaves it to its worker; then it is converged.
    reconcile()
    assert type(deployment).objects.get(pk=deployment.pk).status == DeploymentStatus.RUNNING
    age(deployment, seconds=STALE_AFTER + 1)
    reconcile()
    deployment.refresh_from_db()


def _assert_converged(app, engine, router, *, version: int):
    now = serving(app, engine, router)
    assert now["releases"] == [version]
    assert now["processes"] == [("web", 1), ("web", 2)]
    assert now["upstreams"] == now["web_ports"]
    assert now["rows"] == now["engine_ids"]
    assert Container.objects.filter(app=app, routed=True).count() == 2
    assert set(Container.objects.filter(app=app, routed=True).values_list("release__version", flat=True)) == {version}
    app.refresh_from_db()
    assert app.current_release.version == version


@pytest.mark.parametrize(("call", "nth"), BEFORE_THE_SWITCH)
def test_a_worker_killed_before_the_switch_leaves_the_old_release_serving(app, deploy, engine, router, call, nth):
    deployment = _killed_rollout(app, deploy, engine, router, call, nth)

    _next_pass(deployment)

    assert deployment.status == DeploymentStatus.FAILED
    message = "The worker stopped during the rollout; nothing it started was serving and it was removed."
    assert deployment.error == message
    assert deployment.release.status == ReleaseStatus.FAILED
    assert deployment.release.error == message
    _assert_converged(app, engine, router, version=1)
    assert engine.running(berth_release="2") == []


@pytest.mark.parametrize(("call", "nth"), AFTER_THE_SWITCH)
def test_a_worker_killed_after_the_switch_is_finished_by_the_next_pass(app, deploy, engine, router, call, nth):
    deployment = _killed_rollout(app, deploy, engine, router, call, nth)

    _next_pass(deployment)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert deployment.release.status == ReleaseStatus.SUCCEEDED
    _assert_converged(app, engine, router, version=2)
    assert engine.running(berth_release="1") == []
    # Stopped by the worker before it died (the reconciler finds it gone: lost) or by the next pass (exited).
    assert Container.objects.filter(app=app, release__version=1, state__in=LIVE_STATES).count() == 0


def test_a_pass_after_convergence_changes_nothing(app, deploy, engine, router):
    deployment = _killed_rollout(app, deploy, engine, router, "container_stop", 1)
    _next_pass(deployment)
    before, calls = serving(app, engine, router), len(engine.calls)

    assert reconcile() == set()

    assert serving(app, engine, router) == before
    assert {name for name, _host, _about in engine.calls[calls:]} == {"containers_list"}
