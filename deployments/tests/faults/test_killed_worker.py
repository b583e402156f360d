"""`kill -9` of the worker at six points of a rollout on real dockerds behind the real router, then a new worker and
the reconciler: the app converges to exactly one release, no orphan, no duplicate, and serves throughout."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from deployments.models import LIVE_STATES, App, Container, Deployment, DeploymentStatus
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.views.portal_server import _database_url

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER = Path(__file__).resolve().parent / "killed_worker.py"
CONVERGE_WITHIN = 60
# (point, the release serving once converged): before the switch the old one stays, after it the new one wins
POINTS = [
    ("plan", 1),
    ("started", 1),
    ("health", 1),
    ("switch", 2),
    ("switched", 2),
    ("drain", 2),
]


class Requests:
    """A loop of requests through the router, each on a new connection, recording every failure."""

    def __init__(self, port: int, host: str):
        self.port, self.host = port, host
        self.ok, self.failures, self.bodies = 0, [], set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            connection_ = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection_.request("GET", "/release.txt", headers={"Host": self.host, "Connection": "close"})
                response = connection_.getresponse()
                body = response.read().decode().strip()
                if response.status == 200:
                    self.ok += 1
                    self.bodies.add(body)
                else:
                    self.failures.append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
            finally:
                connection_.close()
            time.sleep(0.02)

    def __enter__(self) -> Requests:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _worker(settings, *args: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "BERTH_ROUTER_INLINE": "0",
        "BERTH_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(WORKER), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _state(app, engines, slug) -> dict:
    """What runs, read back from the engines and the database."""
    running = []
    for engine in engines:
        client = engine.client()
        try:
            running += client.containers.list(filters={"label": f"berth.tenant={slug}", "status": "running"})
        finally:
            client.close()
    rows = Container.objects.filter(app=app, state__in=LIVE_STATES)
    app = App.objects.get(pk=app.pk)
    return {
        "releases": sorted({item.labels["berth.release"] for item in running}),
        "processes": sorted(f"{item.labels['berth.process']}.{item.labels['berth.index']}" for item in running),
        "engine_ids": sorted(item.id for item in running),
        "rows": sorted(rows.values_list("engine_id", flat=True)),
        "routed": sorted(rows.filter(routed=True).values_list("engine_id", flat=True)),
        "current": app.current_release.version,
        "active": Deployment.objects.filter(app=app, status__in=("pending", "running")).count(),
    }


def _converged(state: dict, version: int) -> bool:
    return (
        state["releases"] == [str(version)]
        and state["processes"] == ["web.1", "web.2"]
        and state["engine_ids"] == state["rows"] == state["routed"]
        and state["current"] == version
        and state["active"] == 0
    )


@pytest.mark.parametrize(("point", "serving"), POINTS, ids=[point for point, _ in POINTS])
def test_a_worker_killed_mid_rollout_converges_with_a_new_worker(
    point, serving, hosts, engines, router_loop, app, make_release, tenant_slug, settings, tmp_path
):
    formation = web_formation(quantity=2, healthcheck_timeout=60)
    v1 = make_release(formation=formation)
    assert deployment_execute(deployment_id=rollout_enqueue(release_id=v1.pk).pk).status == "succeeded"
    assert _converged(_state(app, engines, tenant_slug), 1)
    log = tmp_path / "worker.log"

    with Requests(router_loop.port, f"web.{tenant_slug}.localhost") as loop:
        # when: v2's rollout runs in a worker that dies at `point`
        v2 = make_release(formation=formation)
        deployment = rollout_enqueue(release_id=v2.pk)
        dying = _worker(settings, point, log=log)
        assert dying.wait(timeout=120) == -9, log.read_text()
        killed = time.monotonic()
        assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.RUNNING

        # then: a new worker and the reconciler's passes converge the app
        fresh = _worker(settings, "none", log=log)
        try:
            while not _converged(state := _state(app, engines, tenant_slug), serving):
                assert time.monotonic() - killed < CONVERGE_WITHIN, state
                reconcile()
                time.sleep(0.5)
            took = time.monotonic() - killed
            time.sleep(1)  # requests after convergence
            assert _converged(_state(app, engines, tenant_slug), serving)
        finally:
            fresh.kill()
            fresh.wait(timeout=30)

    # then: exactly one release, 0 orphans, 0 duplicates, 0 failed requests
    assert Deployment.objects.get(pk=deployment.pk).status == ("failed" if serving == 1 else "succeeded")
    assert loop.failures == []
    assert loop.ok > 0
    assert loop.bodies <= {"v1", "v2"}
    print(f"\nkill -9 at {point}: converged to v{serving} in {took:.1f} s, {loop.ok} requests, 0 failed")


def test_database_sessions_cut_mid_rollout_everything_recovers_without_a_restart(
    hosts, engines, router_loop, app, make_release, tenant_slug, settings, tmp_path
):
    formation = web_formation(quantity=2, healthcheck_timeout=60)
    v1 = make_release(formation=formation)
    assert deployment_execute(deployment_id=rollout_enqueue(release_id=v1.pk).pk).status == "succeeded"
    log = tmp_path / "worker.log"
    worker = _worker(settings, "slow", log=log)
    try:
        with Requests(router_loop.port, f"web.{tenant_slug}.localhost") as loop:
            # given: v2's rollout is health-checking its new containers in the worker
            v2 = make_release(formation=formation)
            deployment = rollout_enqueue(release_id=v2.pk)
            deadline = time.monotonic() + 120
            while not Container.objects.filter(deployment=deployment).exclude(engine_id="").exists():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)

            # when: every other session of the database is cut (the worker's among them)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                assert cursor.fetchone()[0] >= 1
            cut = time.monotonic()

            # then: the deployment does not stay running; the app converges with the old release
            while not _converged(state := _state(app, engines, tenant_slug), 1):
                assert time.monotonic() - cut < CONVERGE_WITHIN, state
                reconcile()
                time.sleep(0.5)
            took = time.monotonic() - cut
            assert Deployment.objects.get(pk=deployment.pk).status == "failed"

            # then: the same worker process (not restarted) and the router loop take the next rollout to the end
            assert worker.poll() is None, log.read_text()
            v3 = make_release(formation=formation)
            latest = rollout_enqueue(release_id=v3.pk)
            while not _converged(state := _state(app, engines, tenant_slug), 3):
                assert time.monotonic() - cut < 3 * CONVERGE_WITHIN, (state, log.read_text()[-3000:])
                time.sleep(0.5)
            assert Deployment.objects.get(pk=latest.pk).status == "succeeded"
            assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait(timeout=30)
    assert loop.failures == []
    assert loop.bodies <= {"v1", "v3"}
    print(f"\npg_terminate_backend mid-rollout: converged to v1 in {took:.1f} s; the same worker then rolled out v3")
