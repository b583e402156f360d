"""Embedded mode: the task worker and the other background loops, run as threads beside the ASGI server.

The in-memory channel layer does not cross processes, so everything that publishes to it runs in this process.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Worker

from deployments.logs.supervisor import run_collectors
from deployments.metrics.supervisor import run_samplers
from deployments.services.builds import build_archives_collect
from deployments.services.certificates import certificates_renew_due
from deployments.services.gc import gc_run_all
from deployments.services.hosts import host_register_local, hosts_heartbeat
from deployments.services.rollouts import reconcile
from deployments.services.router_logs import router_logs_run
from deployments.services.routes import router_loop

logger = logging.getLogger(__name__)


def _run_task_worker(queue: str) -> None:
    worker = Worker(
        queue_names=[queue],
        interval=0.5,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"embedded-{queue}-{uuid.uuid4().hex[:8]}",
        excluded_queue_names=[],
    )
    worker.run()


HEARTBEAT_INTERVAL = 10.0


def _every(seconds: float, name: str, action) -> None:
    """Run `action` every `seconds`, forever; an error is logged and the loop goes on."""
    while True:
        close_old_connections()
        try:
            action()
        except Exception:
            logger.exception("%s failed", name)
        time.sleep(seconds)


def run_router() -> None:
    """Start HAProxy on BERTH_ROUTER_PORT and keep it in step with the routes (services/routes.py); its access log goes
    into the apps' log streams (services/router_logs.py)."""
    stop = threading.Event()
    threading.Thread(target=_guarded("router-logs", lambda: router_logs_run(stop)), daemon=True).start()
    router_loop(stop=stop)


def run_heartbeat() -> None:
    """Heartbeat every host (down when it stops answering) and let the reconciler repair what drifted."""
    try:
        host_register_local()
    except Exception:
        logger.exception("the local engine could not be registered")

    def beat():
        hosts_heartbeat()
        reconcile()

    _every(HEARTBEAT_INTERVAL, "heartbeat", beat)


def _collect_garbage() -> None:
    """Collect the garbage of every host and the old build sources; a failure is logged, the next interval retries."""
    try:
        gc_run_all(dry_run=False)
    except Exception:
        logger.exception("garbage collection failed")
    try:
        build_archives_collect()
    except Exception:
        logger.exception("pruning the build source archives failed")


def _run_gc() -> None:
    """Collect the garbage of every host every BERTH_GC_INTERVAL seconds (0 turns it off); first after one interval."""
    interval = settings.BERTH_GC_INTERVAL
    if interval <= 0:
        logger.info("periodic garbage collection is off (BERTH_GC_INTERVAL=0)")
        return
    while True:
        time.sleep(interval)
        close_old_connections()
        _collect_garbage()


def run_certificate_renewal() -> None:
    """Queue the renewal of ACME certificates near expiry every BERTH_CERT_CHECK_INTERVAL seconds (0 turns it off)."""
    interval = settings.BERTH_CERT_CHECK_INTERVAL
    if interval <= 0:
        logger.info("certificate renewal is off (BERTH_CERT_CHECK_INTERVAL=0)")
        return
    _every(interval, "certificate renewal", certificates_renew_due)


def _run_log_collectors() -> None:
    # One collector per registered DockerHost (the local engine when none), following hosts added later.
    run_collectors(threading.Event())


def _run_metrics_samplers() -> None:
    # One sampler per registered DockerHost (the local engine when none); downsampling every interval.
    run_samplers(threading.Event())


def background_loops() -> list[tuple[str, callable]]:
    """The loops embedded mode runs: (name, target)."""
    # BERTH_WORKERS threads take rollouts: different apps' run at once, one app's in turn (rollouts/locks.py).
    workers = [
        (f"worker-default-{n}", lambda: _run_task_worker("default")) for n in range(1, settings.BERTH_WORKERS + 1)
    ]
    return [
        *workers,
        ("worker-builds", lambda: _run_task_worker("builds")),
        ("router", run_router),
        ("heartbeat", run_heartbeat),
        ("logs-collector", _run_log_collectors),
        ("metrics-sampler", _run_metrics_samplers),
        ("gc", _run_gc),
        ("certificates", run_certificate_renewal),
    ]


def start_background() -> list[threading.Thread]:
    threads = []
    for name, target in background_loops():
        thread = threading.Thread(target=_guarded(name, target), name=name, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _guarded(name: str, target):
    def run():
        try:
            target()
        except Exception:
            logger.exception("background loop %s stopped", name)

    return run
