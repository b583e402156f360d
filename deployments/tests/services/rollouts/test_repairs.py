"""The reconciler's repairs on the in-memory engine: a dead container is replaced at once, a crash loop backs off
and says so, every repair is audited with the platform as its actor, and one app's deployments never overlap."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from deployments.models import LIVE_STATES, AppRepair, Container, Deployment, DeploymentKind, RepairState
from deployments.services.rollouts import deployment_execute, reconcile
from deployments.services.rollouts.locks import app_turn, worker_alive
from deployments.tests.factories import MembershipFactory, UserFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def _crash(engine, app, *, code=1, output="boom\nsegfault"):
    """The app's web.1 dies on its engine, as a process that crashed after the engine gave up restarting it."""
    [item] = engine.running(berth_app=app.slug)
    item.state, item.exit_code, item.output = "exited", code, output


def _repair_now(app):
    """Run the scale the reconciler queued, as the worker would."""
    deployment = Deployment.objects.filter(app=app, kind=DeploymentKind.SCALE).order_by("-pk").first()
    return deployment_execute(deployment_id=deployment.pk)


def test_a_dead_container_is_replaced_at_once_and_the_app_says_how_it_ended(app, deploy, engine, settings):
    deploy(1, quantity=1)
    _crash(engine, app, code=3, output="line 1\nline 2")

    assert reconcile() == {app.pk}

    repair = AppRepair.objects.get(app=app)
    assert (repair.state, repair.desired, repair.running, repair.streak, repair.replaced) == (
        RepairState.REPAIRING,
        1,
        0,
        1,
        1,
    )
    assert (repair.last_exit_code, repair.last_restart_count, repair.last_output) == (3, 0, "line 1\nline 2")
    assert repair.last_repair == "Started web again (0 of 1 running): web.1 on a exited with code 3 after 0 restart(s)."
    event = AuditEvent.objects.get(action="app.repair")
    assert (event.actor_id, event.tenant_id) == (None, app.tenant_id)
    assert event.diff["seen"] == ["web.1 on a exited with code 3 after 0 restart(s)"]

    assert _repair_now(app).status == "succeeded"
    assert reconcile() == set()
    repair.refresh_from_db()
    assert (repair.state, repair.running) == (RepairState.OK, 1)
    assert len(engine.running(berth_app=app.slug)) == 1


def test_a_crash_loop_backs_off_doubling_and_says_so(app, deploy, engine, settings):
    settings.BERTH_REPAIR_BACKOFF_BASE, settings.BERTH_REPAIR_BACKOFF_MAX = 10, 25
    deploy(1, quantity=1)
    waits = []
    for attempt in range(1, 5):
        _crash(engine, app)
        if attempt > 1:
            # dead again before its back-off ran out: nothing is queued, the app says when the next repair comes
            assert reconcile() == set()
            repair = AppRepair.objects.get(app=app)
            assert repair.state == RepairState.BACKING_OFF
            assert repair.last_repair == (
                f"web keep(s) dying: {attempt - 1} repairs in a row; "
                f"the next one at {repair.next_repair_at:%H:%M:%S} UTC."
            )
            AppRepair.objects.filter(app=app).update(next_repair_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        assert reconcile() == {app.pk}
        repair = AppRepair.objects.get(app=app)
        waits.append(round((repair.next_repair_at - before).total_seconds()))
        assert _repair_now(app).status == "succeeded"
    assert waits == [10, 20, 25, 25]
    assert repair.streak == 4
    assert AuditEvent.objects.filter(action="app.repair").count() == 4


def test_a_pass_that_sees_the_app_whole_between_two_deaths_keeps_the_back_off(app, deploy, engine, settings):
    # A replacement that passes its health check and dies a few seconds later: the reconciler's pass in between sees
    # the app whole, and must not clear the back-off the repair set.
    settings.BERTH_REPAIR_BACKOFF_BASE = 30
    deploy(1, quantity=1)
    _crash(engine, app)
    assert reconcile() == {app.pk}
    assert _repair_now(app).status == "succeeded"
    assert reconcile() == set()
    assert AppRepair.objects.get(app=app).state == RepairState.OK

    _crash(engine, app)

    assert reconcile() == set()
    repair = AppRepair.objects.get(app=app)
    assert repair.state == RepairState.BACKING_OFF
    assert repair.streak == 1


def test_a_repair_outside_the_window_starts_a_new_streak(app, deploy, engine, settings):
    deploy(1, quantity=1)
    _crash(engine, app)
    reconcile()
    _repair_now(app)
    AppRepair.objects.filter(app=app).update(
        last_repair_at=timezone.now() - timedelta(seconds=settings.BERTH_REPAIR_WINDOW + 1),
        next_repair_at=None,
    )
    _crash(engine, app)

    assert reconcile() == {app.pk}

    assert AppRepair.objects.get(app=app).streak == 1


def test_a_second_reconciler_queues_no_second_repair(app, deploy, engine):
    deploy(1, quantity=2)
    for item in engine.running(berth_app=app.slug):
        item.state, item.exit_code = "exited", 137

    assert reconcile() == {app.pk}
    assert reconcile() == set()  # the first one's repair is still queued

    assert Deployment.objects.filter(app=app, kind=DeploymentKind.SCALE).count() == 1
    _repair_now(app)
    assert Container.objects.filter(app=app, state__in=LIVE_STATES).count() == 2


@pytest.mark.django_db(transaction=True)
def test_one_apps_turn_is_held_across_sessions_and_freed_when_its_session_ends(app):
    # The advisory lock is PostgreSQL's (SQLite's workers share one process): the suite runs on PostgreSQL, as CI does.
    assert connection.vendor == "postgresql", "run the suite against PostgreSQL (DATABASE_URL), as `make test` does"
    held, release = threading.Event(), threading.Event()

    def worker():
        with app_turn(app.pk, timeout=5) as ok:
            assert ok
            held.set()
            release.wait(30)
        held.clear()
        # a worker killed now: its session ends, and the server drops whatever it held
        connections["default"].close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert held.wait(10)
    try:
        assert worker_alive(app.pk) is True
        with app_turn(app.pk, timeout=0.5) as ok:
            assert ok is False
        with app_turn(app.pk + 1, timeout=0) as ok:
            assert ok is True
    finally:
        release.set()
        thread.join(30)
    assert worker_alive(app.pk) is False
    with app_turn(app.pk, timeout=0) as ok:
        assert ok is True


def test_the_app_shows_the_reconcilers_view_in_the_api_and_on_its_page(app, deploy, engine, api, client):
    member = MembershipFactory(tenant=app.tenant, user=UserFactory(), role="viewer").user
    deploy(1, quantity=1)
    _crash(engine, app, code=2, output="panic: out of cheese")
    reconcile()

    body = api(member).get(f"/api/v1/tenants/{app.tenant.slug}/apps/web/").json()
    status = body["reconciler"]
    assert {key: status[key] for key in ("state", "desired", "running", "repairs", "replaced", "last_exit_code")} == {
        "state": "repairing",
        "desired": 1,
        "running": 0,
        "repairs": 1,
        "replaced": 1,
        "last_exit_code": 2,
    }
    assert status["last_output"] == "panic: out of cheese"
    assert status["last_repair"].startswith("Started web again (0 of 1 running): web.1 on a exited with code 2")

    client.force_login(member)
    page = client.get(f"/t/{app.tenant.slug}/apps/web/").content.decode()
    assert "0 of 1 running" in page
    assert "exit code 2 after 0 restarts" in page
    assert "panic: out of cheese" in page
