"""Reading back what serves an app from the fakes, and killing the worker at a chosen call."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from deployments.engine.fake import FakeEngine
from deployments.models import Container, Deployment
from deployments.router.fake import FakeRouter


def serving(app, engine, router) -> dict:
    """What actually serves the app: the release versions running on the engines, their (process, index) pairs, the
    router's upstreams for it, and the live rows' engine ids, all read back from the fakes and the database."""
    running = engine.running(berth_tenant=app.tenant.slug, berth_app=app.slug)
    route = router.served.get(f"{app.tenant.slug}__{app.slug}")
    rows = Container.objects.filter(app=app, state__in=("starting", "running"))
    return {
        "releases": sorted({int(item.labels["berth.release"]) for item in running}),
        "processes": sorted((item.labels["berth.process"], int(item.labels["berth.index"])) for item in running),
        "upstreams": sorted(route.upstreams) if route else [],
        "engine_ids": sorted(item.engine_id for item in running),
        "rows": sorted(rows.values_list("engine_id", flat=True)),
        "web_ports": sorted(f"127.0.0.1:{item.host_port}" for item in running if item.host_port),
    }


class WorkerKilled(BaseException):
    """The worker's process is gone: nothing it would still do takes effect."""


# Transaction control goes through, so that a transaction the worker had open rolls back as a dead session's would.
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


@contextlib.contextmanager
def worker_killed_at(engine: FakeEngine, router: FakeRouter, call: str, nth: int = 1):
    """Kill the worker at its `nth` engine call (or router call) named `call`, before it takes effect.

    From then on every engine, router and database call of the worker fails with WorkerKilled before doing anything,
    so what it leaves is what a SIGKILL at that moment would leave: committed rows, the engines' containers (a call
    already under way in another thread completes, as a call a dockerd already received does), and an open
    transaction rolled back.
    """
    state = {"seen": 0, "dead": False}

    def on_call(name, *_args):
        if state["dead"]:
            raise WorkerKilled(name)
        if name == call:
            state["seen"] += 1
            if state["seen"] == nth:
                state["dead"] = True
                raise WorkerKilled(name)

    def on_query(execute, sql, params, many, context):
        if state["dead"] and not sql.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            raise WorkerKilled(sql[:40])
        return execute(sql, params, many, context)

    engine.hook, router.hook = on_call, on_call
    try:
        with connection.execute_wrapper(on_query), contextlib.suppress(WorkerKilled):
            yield state
    finally:
        engine.hook = router.hook = None
    assert state["dead"], f"the worker never called {call} {nth} time(s)"


def age(deployment: Deployment, *, seconds: float) -> None:
    """Make the deployment's last sign of life `seconds` old, as the reconciler will find it after that long."""
    then = timezone.now() - timedelta(seconds=seconds)
    steps = [{**step, "started_at": then.isoformat()} for step in deployment.steps]
    Deployment.objects.filter(pk=deployment.pk).update(started_at=then, steps=steps)


def last_deployment(app) -> Deployment:
    return Deployment.objects.filter(app=app).order_by("-pk").first()
