"""A rollout run to its end on the in-memory engine and router: start, health check, switch, drain, supersede."""

import threading

import pytest
from django.db import connection

from deployments.engine.client import EngineError
from deployments.engine.fake import Behaviour
from deployments.models import Container, DeploymentStatus, ReleaseStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.services.rollouts.world import serving

pytestmark = pytest.mark.django_db


def test_a_first_rollout_starts_the_formation_spread_over_the_hosts_and_routes_it(app, deploy, engine, router):
    # when
    deployment = deploy(1)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert [step["name"] for step in deployment.steps] == ["plan", "prepare", "start", "route", "drain"]
    assert {step["status"] for step in deployment.steps} == {"succeeded"}
    assert deployment.progress == 100
    now = serving(app, engine, router)
    assert now["releases"] == [1]
    assert now["processes"] == [("web", 1), ("web", 2)]
    assert now["upstreams"] == now["web_ports"]
    assert now["rows"] == now["engine_ids"]
    assert sorted(len(engine.running(host)) for host in ("a", "b")) == [1, 1]
    app.refresh_from_db()
    assert app.current_release.version == 1
    assert app.current_release.status == ReleaseStatus.SUCCEEDED
    assert Container.objects.filter(app=app, routed=True).count() == 2


def test_a_second_rollout_replaces_every_old_container_after_the_router_left_them(app, deploy, engine, router):
    deploy(1)
    old = {f"127.0.0.1:{item.host_port}": item.engine_id for item in engine.running()}
    stopped_while_routed = []

    def on_call(name, host, about):
        if name == "container_stop":
            port = next((p for p, engine_id in old.items() if engine_id == about), None)
            if port in router.upstreams():
                stopped_while_routed.append(port)

    engine.hook = on_call

    # when
    deployment = deploy(2, quantity=3)

    # then
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert stopped_while_routed == []
    assert [name for name, _host, _about in engine.calls].count("container_stop") == 2
    now = serving(app, engine, router)
    assert now["releases"] == [2]
    assert now["processes"] == [("web", 1), ("web", 2), ("web", 3)]
    assert now["upstreams"] == now["web_ports"]
    assert set(now["upstreams"]).isdisjoint(old)
    assert Container.objects.filter(app=app, release__version=1, state="exited", routed=False).count() == 2


def test_a_failed_health_check_stops_the_rollout_and_keeps_the_old_release_serving(app, deploy, engine, router):
    deploy(1)
    before = serving(app, engine, router)

    # when
    deployment = deploy(2, Behaviour(http_status=500))

    # then
    assert deployment.status == DeploymentStatus.FAILED
    assert "did not pass its health check (GET / on port 5000) within 1 s: answered HTTP 500" in deployment.error
    assert deployment.release.status == ReleaseStatus.FAILED
    assert deployment.release.error == deployment.error
    assert [(step["name"], step["status"]) for step in deployment.steps][-1] == ("start", "failed")
    assert serving(app, engine, router) == before
    app.refresh_from_db()
    assert app.current_release.version == 1
    assert Container.objects.filter(app=app, release__version=2, state="exited").count() == 2


def test_a_process_that_exits_at_start_fails_the_rollout_with_its_output(app, deploy, engine, router):
    deploy(1)
    before = serving(app, engine, router)

    deployment = deploy(2, Behaviour(exit_code=3, output="boom: DATABASE_URL is not set"))

    assert deployment.status == DeploymentStatus.FAILED
    assert "exited (exit code 3) during start. Last output: boom: DATABASE_URL is not set" in deployment.error
    assert serving(app, engine, router) == before
    assert engine.running(berth_release="2") == []


def test_a_failing_release_command_starts_nothing(app, deploy, engine, router):
    deploy(1)
    before = serving(app, engine, router)

    deployment = deploy(2, Behaviour(release_exit=2, release_output="migration 0042 failed"), release_command="migrate")

    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == (
        "The release command `migrate` exited with status 2; the new release was not started. "
        "Its output: migration 0042 failed"
    )
    assert [run.command for run in engine.oneoffs] == [["migrate"]]
    assert [name for name, _host, _about in engine.calls].count("container_start") == 2  # release 1's alone
    assert serving(app, engine, router) == before


def test_a_router_that_refuses_the_switch_puts_the_old_containers_back(app, deploy, engine, router):
    deploy(1)
    before = serving(app, engine, router)
    router.fail = 1

    # when
    deployment = deploy(2)

    # then
    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.error == "nginx: [emerg] the fake router refused the config"
    assert [(step["name"], step["status"]) for step in deployment.steps][-1] == ("route", "failed")
    assert serving(app, engine, router) == before
    assert Container.objects.filter(app=app, release__version=1, routed=True).count() == 2
    assert Container.objects.filter(app=app, release__version=2, routed=True).count() == 0
    app.refresh_from_db()
    assert app.current_release.version == 1


def test_an_old_container_that_does_not_stop_cleanly_is_reported_without_failing_the_rollout(
    app, deploy, engine, router
):
    deploy(1)
    refused = engine.running()[0].engine_id

    def on_call(name, host, about):
        if name == "container_stop" and about == refused:
            raise EngineError("Stop container failed on a: the daemon is busy", host="a")

    engine.hook = on_call

    deployment = deploy(2)

    assert deployment.status == DeploymentStatus.SUCCEEDED
    drain = deployment.steps[-1]
    assert drain["name"] == "drain"
    assert drain["detail"].startswith("Some old containers did not stop cleanly: berth-")
    assert drain["detail"].endswith(": Stop container failed on a: the daemon is busy")
    assert serving(app, engine, router)["upstreams"] == sorted(
        f"127.0.0.1:{item.host_port}" for item in engine.running(berth_release="2")
    )


def test_a_newer_rollout_supersedes_one_that_is_starting(app, deploy, engine, router):
    deploy(1)
    before = serving(app, engine, router)
    newer = deploy.release(3)
    release = deploy.release(2, Behaviour(http_status=None), healthcheck_timeout=30)
    deployment = rollout_enqueue(release_id=release.pk)
    probing = threading.Event()
    engine.hook = lambda name, host, about: probing.set() if name == "container_state" else None
    superseded = []

    def on_query(execute, sql, params, many, context):
        # The newer rollout is queued by the worker's own thread (pool threads have no view of this test's rows),
        # once its new containers answer no health check.
        if probing.is_set() and not superseded:
            superseded.append(newer.pk)
            rollout_enqueue(release_id=newer.pk)
        return execute(sql, params, many, context)

    # when
    with connection.execute_wrapper(on_query):
        deployment = deployment_execute(deployment_id=deployment.pk)

    # then
    assert len(superseded) == 1
    assert deployment.status == DeploymentStatus.SUPERSEDED
    assert deployment.error == "Superseded by the rollout of v3."
    assert [(step["name"], step["status"]) for step in deployment.steps][-1] == ("start", "failed")
    release.refresh_from_db()
    assert release.status == ReleaseStatus.FAILED
    assert release.error == "Superseded by a newer rollout before it served."
    assert serving(app, engine, router) == before
    assert engine.running(berth_release="2") == []
    assert Container.objects.filter(app=app, release__version=2, state="exited").count() == 2
