"""Faults of containers and engines on dockerds of the tests' own, with the real router in front.

Each test asserts the end state exactly (the right containers of the right release, nothing else running, on ready
hosts only) and prints how long the fleet took to converge (`pytest -s` shows it).
"""

import itertools
import time

import pytest

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.models import (
    LIVE_STATES,
    AppRepair,
    Container,
    Deployment,
    DeploymentKind,
    DockerHost,
    HostStatus,
    RepairState,
)
from deployments.services.hosts import host_heartbeat, host_spec, hosts_heartbeat
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.tests.factories import web_formation
from tenants.models import AuditEvent

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _running(engine, slug):
    """{(process.index, release)} of the tenant's containers running on `engine`."""
    client = engine.client()
    try:
        found = client.containers.list(filters={"label": f"berth.tenant={slug}", "status": "running"})
        return sorted(
            (f"{c.labels['berth.process']}.{c.labels['berth.index']}", c.labels["berth.release"]) for c in found
        )
    finally:
        client.close()


def _live_rows(app):
    rows = Container.objects.filter(app=app, state__in=LIVE_STATES).select_related("host", "release")
    return sorted((f"{r.process_type}.{r.index}", r.host.name, r.release.version) for r in rows)


def _repair(app):
    """Run the repairs the reconciler queued for the app, as a worker would; return them."""
    done = []
    for deployment in Deployment.objects.filter(app=app, kind=DeploymentKind.SCALE, status="pending").order_by("pk"):
        done.append(deployment_execute(deployment_id=deployment.pk))
    return done


def _deploy_two(make_release, app):
    release = make_release(formation=web_formation(quantity=2, healthcheck_timeout=60))
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    assert deployment.status == "succeeded", deployment.error
    assert _live_rows(app) == [("web.1", "first", 1), ("web.2", "second", 1)]
    return release


def test_a_killed_and_a_removed_container_are_replaced(hosts, engines, router, app, make_release, traffic, tenant_slug):
    # given: web.1 on first, web.2 on second
    _deploy_two(make_release, app)
    one = Container.objects.get(app=app, index=1)
    two = Container.objects.get(app=app, index=2)

    # when: `docker kill` of one, `docker rm -f` of the other
    began = time.monotonic()
    engines[0].client().containers.get(one.engine_id).kill()
    engines[1].client().containers.get(two.engine_id).remove(force=True)
    queued = reconcile()
    repairs = _repair(app)
    converged = time.monotonic() - began

    # then
    assert queued == {app.pk}
    assert [d.status for d in repairs] == ["succeeded"]
    assert _live_rows(app) == [("web.1", "first", 1), ("web.2", "second", 1)]
    assert _running(engines[0], tenant_slug) == [("web.1", "1")]
    assert _running(engines[1], tenant_slug) == [("web.2", "1")]
    assert Container.objects.filter(app=app, state="lost").count() == 2
    repair = AppRepair.objects.get(app=app)
    assert (repair.replaced, repair.last_exit_code) == (2, 137)
    assert sorted(AuditEvent.objects.get(action="app.repair").diff["seen"]) == [
        "web.1 on first exited with code 137 after 0 restart(s)",
        "web.2 on second vanished from its engine",
    ]
    loop = traffic()
    assert [loop.get() for _ in range(4)] == [(200, "v1\n")] * 4
    assert reconcile() == set()
    print(f"\nkill + rm -f: converged in {converged:.1f} s")


def test_a_stopped_host_is_marked_down_its_web_moves_and_back_up_its_stale_containers_go(
    hosts, engines, router, app, make_release, traffic, tenant_slug, settings
):
    settings.BERTH_ORPHAN_GRACE_SECONDS = 0
    _deploy_two(make_release, app)
    stale = Container.objects.get(app=app, index=2).engine_id

    # when: the second dockerd goes away
    began = time.monotonic()
    engines[1].stop()
    hosts_heartbeat()
    down_after = time.monotonic() - began
    reconcile()
    repairs = _repair(app)
    moved_after = time.monotonic() - began

    # then: marked down within one heartbeat (its ping's deadline is 5 s), web.2 runs on first and serves
    assert DockerHost.objects.get(name="second").status == HostStatus.DOWN
    assert down_after < 5 + 2
    assert [d.status for d in repairs] == ["succeeded"]
    assert _live_rows(app) == [("web.1", "first", 1), ("web.2", "first", 1)]
    assert _running(engines[0], tenant_slug) == [("web.1", "1"), ("web.2", "1")]
    loop = traffic()
    assert [loop.get() for _ in range(4)] == [(200, "v1\n")] * 4

    # when: it comes back (its engine may restart the old container by its restart policy)
    engines[1].start()
    hosts_heartbeat()
    assert DockerHost.objects.get(name="second").status == HostStatus.READY
    reconcile()

    # then: nothing of the app runs there any more, nothing runs twice
    assert _running(engines[1], tenant_slug) == []
    assert _live_rows(app) == [("web.1", "first", 1), ("web.2", "first", 1)]
    assert _running(engines[0], tenant_slug) == [("web.1", "1"), ("web.2", "1")]
    assert stale not in {c.id for c in engines[1].client().containers.list()}
    assert reconcile() == set()
    print(f"\nsecond host stopped: down after {down_after:.1f} s, web moved after {moved_after:.1f} s")


def test_a_hung_engine_fails_each_call_within_its_deadline(hosts, engines, settings):
    settings.BERTH_ENGINE_TIMEOUT = 3
    second = DockerHost.objects.get(name="second")
    engines[1].pause()
    try:
        began = time.monotonic()
        with pytest.raises(EngineError) as failed:
            docker_ops.containers_list(host_spec(second), labels={"berth.managed": "1"})
        listed = time.monotonic() - began
        began = time.monotonic()
        host_heartbeat(host=second)
        beat = time.monotonic() - began
    finally:
        engines[1].resume()

    # then: the call met its 3 s deadline (plus the time to raise), the heartbeat its ping's 5 s
    assert failed.value.unreachable
    assert failed.value.message.startswith("List containers: engine second ")
    assert "timed out" in failed.value.message.lower()
    assert 3 <= listed < 3 + 2
    assert beat < 5 + 2
    assert DockerHost.objects.get(name="second").status == HostStatus.DOWN


def test_a_restarted_engine_fails_fast_while_away_and_the_app_converges_after(
    hosts, engines, router, app, make_release, traffic, tenant_slug, settings
):
    settings.BERTH_ORPHAN_GRACE_SECONDS = 0
    _deploy_two(make_release, app)
    first = DockerHost.objects.get(name="first")

    engines[0].stop()
    began = time.monotonic()
    with pytest.raises(EngineError) as failed:
        docker_ops.containers_list(host_spec(first), labels={"berth.managed": "1"})
    away = time.monotonic() - began
    assert failed.value.unreachable
    assert away < 1

    began = time.monotonic()
    engines[0].start()
    hosts_heartbeat()
    reconcile()
    _repair(app)
    converged = time.monotonic() - began

    # then: the app runs as desired on ready hosts, one container per index, and serves
    live = _live_rows(app)
    assert sorted(index for index, _host, _version in live) == ["web.1", "web.2"]
    running = _running(engines[0], tenant_slug) + _running(engines[1], tenant_slug)
    assert sorted(running) == [("web.1", "1"), ("web.2", "1")]
    loop = traffic()
    assert [loop.get() for _ in range(4)] == [(200, "v1\n")] * 4
    assert reconcile() == set()
    print(f"\ndockerd restarted: calls failed in {away * 1000:.0f} ms while away, converged {converged:.1f} s after")


def test_a_crash_looping_release_backs_off_doubling_and_says_so(
    hosts, engines, router, app, make_release, tenant_slug, settings
):
    # given: a web process that serves, then dies with code 3 after 3 s, every time: the engine restarts it
    # RESTART_MAX (3) times, so each container lasts about 13 s, then it is the reconciler's to judge. The back-off
    # (20 s, then 40 s at most) is longer than that, so the app is seen backing off between repairs.
    settings.BERTH_REPAIR_BACKOFF_BASE, settings.BERTH_REPAIR_BACKOFF_MAX = 20, 40
    command = "/bin/sh -c '/bin/sh /app/start.sh & sleep 3; echo web: giving up; exit 3'"
    release = make_release(formation=web_formation(quantity=1, command=command, healthcheck_timeout=60))
    assert deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk).status == "succeeded"

    # when: the reconciler and a worker run as their loops would, until three repairs were made
    began = time.monotonic()
    repairs, backing_off = [], []
    while len(repairs) < 3:
        assert time.monotonic() - began < 300, (repairs, AppRepair.objects.filter(app=app).values().first())
        reconcile()
        repair = AppRepair.objects.filter(app=app).first()
        if repair is not None and repair.state == RepairState.BACKING_OFF and repair.streak not in backing_off:
            backing_off.append(repair.streak)
            assert repair.last_repair == (
                f"web keep(s) dying: {repair.streak} repairs in a row; "
                f"the next one at {repair.next_repair_at:%H:%M:%S} UTC."
            )
        for done in _repair(app):
            assert done.status == "succeeded", done.error
            repair = AppRepair.objects.get(app=app)
            repairs.append((repair.last_repair_at, repair.next_repair_at))
        time.sleep(0.5)

    # then: each repair came no earlier than the back-off the previous one set, the waits doubled up to the
    # bound, the app said it was backing off between them, and it said how the process ended
    waits = [round((next_at - at).total_seconds()) for at, next_at in repairs]
    assert waits == [20, 40, 40]
    for (_, next_at), (at, _) in itertools.pairwise(repairs):
        assert at >= next_at
    assert backing_off == [1, 2]
    repair = AppRepair.objects.get(app=app)
    assert (repair.streak, repair.last_exit_code, repair.last_restart_count) == (3, 3, 3)
    assert "web: giving up" in repair.last_output
    assert AuditEvent.objects.filter(action="app.repair", tenant=app.tenant).count() == 3
    print(f"\ncrash loop: 3 repairs in {time.monotonic() - began:.1f} s, waits {waits}")
