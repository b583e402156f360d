"""Two reconcilers and two workers running at once for two minutes while containers are killed and removed: every
loss is repaired exactly once (the engines' create events are counted), and the app ends as desired."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from deployments.services.hosts import hosts_heartbeat
from deployments.services.rollouts import deployment_execute, reconcile, rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.faults.test_killed_worker import (  # the same worker process, request loop and read-back
    CONVERGE_WITHIN,
    Requests,
    _converged,
    _state,
    _worker,
)
from tenants.models import AuditEvent

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DURATION = 120
FAULT_EVERY = 15


def _reconciler(stop: threading.Event, errors: list) -> None:
    """One heartbeat-and-reconcile loop, as `manage.py heartbeat` runs it, on its own database session."""
    try:
        while not stop.is_set():
            try:
                hosts_heartbeat()
                reconcile()
            except Exception as exc:  # a pass that fails is retried, as the loop does; the test reports them
                errors.append(repr(exc))
            stop.wait(1)
    finally:
        connection.close()


def _creates(engines, slug: str, since: int, before: set[str]) -> int:
    """Containers of the tenant created on the engines since `since`, not counting those in `before` (Docker's `since`
    counts whole seconds, so the rollout's own creates in that second would be counted otherwise)."""
    total = 0
    for engine in engines:
        client = engine.client()
        try:
            events = client.events(
                since=since,
                until=int(time.time()) + 1,
                filters={"type": "container", "event": "create", "label": f"berth.tenant={slug}"},
                decode=True,
            )
            total += sum(1 for event in events if event["id"] not in before)
        finally:
            client.close()
    return total


def test_two_reconcilers_and_two_workers_repair_every_loss_once(
    hosts,
    engines,
    router_loop,
    app,
    make_release,
    tenant_slug,
    settings,
    tmp_path,
):
    # Faults 15 s apart are independent losses, not a crash loop: with the default 600 s window each repair would
    # follow the one before within it and back off (10, 20, 40 s...), which is the crash-loop test's subject
    # (test_hosts.py), not this one's.
    settings.BERTH_REPAIR_WINDOW = FAULT_EVERY // 2
    formation = web_formation(quantity=2, healthcheck_timeout=60)
    v1 = make_release(formation=formation)
    assert deployment_execute(deployment_id=rollout_enqueue(release_id=v1.pk).pk).status == "succeeded"
    since = int(time.time())
    before = {
        container.id
        for engine in engines
        for container in engine.client().containers.list(all=True, filters={"label": f"berth.tenant={tenant_slug}"})
    }
    assert len(before) == 2
    workers = [_worker(settings, "none", log=tmp_path / f"worker-{n}.log") for n in (1, 2)]
    stop, errors = threading.Event(), []
    reconcilers = [threading.Thread(target=_reconciler, args=(stop, errors)) for _ in (1, 2)]
    for thread in reconcilers:
        thread.start()
    faults = []
    try:
        with Requests(router_loop.port, f"web.{tenant_slug}.localhost") as loop:
            for _ in range(DURATION // FAULT_EVERY):
                time.sleep(FAULT_EVERY)
                # kill or remove one running container of the app, on whichever host it is
                for engine in engines:
                    running = engine.client().containers.list(filters={"label": f"berth.tenant={tenant_slug}"})
                    if running:
                        victim = running[0]
                        if len(faults) % 2:
                            victim.remove(force=True)
                        else:
                            victim.kill()
                        faults.append(f"{engine.name}:{victim.name}")
                        break
            deadline = time.monotonic() + CONVERGE_WITHIN
            while not _converged(state := _state(app, engines, tenant_slug), 1):
                assert time.monotonic() < deadline, state
                time.sleep(0.5)
            took = CONVERGE_WITHIN - (deadline - time.monotonic())
    finally:
        stop.set()
        for thread in reconcilers:
            thread.join(timeout=60)
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)

    # then: as many containers created as were lost, no more; one repair each at most (two losses may share one)
    assert len(faults) == DURATION // FAULT_EVERY  # a fault every 15 s, each found a container to hit
    assert _creates(engines, tenant_slug, since, before) == len(faults)
    repairs = AuditEvent.objects.filter(action="app.repair").count()
    assert 1 <= repairs <= len(faults)
    assert [worker.returncode for worker in workers] == [-9, -9]  # alive until the end
    print(
        f"\n2 reconcilers + 2 workers, {len(faults)} faults in {DURATION} s: {repairs} repairs, "
        f"{_creates(engines, tenant_slug, since, before)} containers created, converged {took:.1f} s after the last; "
        f"requests {loop.ok} ok, {len(loop.failures)} failed; reconciler pass errors: {len(errors)}"
    )
