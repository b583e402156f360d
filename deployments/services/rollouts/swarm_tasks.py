"""The Swarm scheduler's work on tasks: wait until a service's tasks run healthy, record them as Container rows of
their nodes' hosts, remove services, run a one-off service, and the reconciler's pass over the apps on clusters.

Used by the steps in rollouts/swarm.py, by the reconciler (clusters_reconcile) and by an app's teardown.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from deployments.engine import swarm as swarm_ops
from deployments.engine.client import EngineError, EngineSpec
from deployments.engine.labels import APP_LABEL, DEPLOYMENT_LABEL, RELEASE_LABEL, TENANT_LABEL
from deployments.models import (
    LIVE_STATES,
    App,
    Cluster,
    Container,
    ContainerState,
    Deployment,
    DeploymentStatus,
    DockerHost,
    HealthcheckKind,
)
from deployments.router import RouterError
from deployments.selectors.clusters import cluster_spec
from deployments.services import routes
from deployments.services.rollouts.containers import _http_ok, containers_stop
from deployments.services.rollouts.errors import RolloutFailed, Superseded
from deployments.services.rollouts.locks import app_turn
from deployments.services.rollouts.plan import (
    CONTAINER_PORT,
    WEB,
    release_processes,
)

logger = logging.getLogger(__name__)

# How long Swarm may take to give every task a node and start it, beyond the process's health check timeout.
SCHEDULE_TIMEOUT = 60
# A task Swarm leaves pending this long with "no suitable node" will not be placed: the rollout says why.
UNPLACEABLE_AFTER = 10
POLL = 0.25


@dataclass(frozen=True)
class SwarmProcess:
    """One service a deployment runs or changes: its process type, replicas and settings."""

    process_type: str
    replicas: int
    settings: dict
    service: str
    service_id: str = ""


def manager_of(app: App) -> EngineSpec:
    return cluster_spec(app.cluster)


@dataclass
class _Watch:
    """What the wait knows of one service's tasks: the healthy ones, and why the others are not yet."""

    process: SwarmProcess
    healthy: dict[str, swarm_ops.Task]
    running_since: dict[str, float]
    unplaced_since: float | None = None
    last: str = "no task yet"


def _task_label(process: SwarmProcess, task: swarm_ops.Task, hosts: dict[str, DockerHost]) -> str:
    host = hosts.get(task.node_id)
    return f"{process.process_type}.{task.slot} on {host.name if host else 'node ' + task.node_id[:12]}"


def _healthy(process: SwarmProcess, task: swarm_ops.Task, host: DockerHost, since: float) -> tuple[bool, str]:
    values = process.settings
    if process.process_type == WEB and values["healthcheck_kind"] == HealthcheckKind.HTTP:
        if not task.host_port:
            return False, "no published port yet"
        return _http_ok(host.address, task.host_port, values["healthcheck"])
    # A command check is Docker's: Swarm reports a task running only once it passed. No check: up for a second.
    if values["healthcheck_kind"] == HealthcheckKind.COMMAND:
        return True, ""
    return time.monotonic() - since >= 1.0, "still starting"


def _look(watch: _Watch, tasks: list[swarm_ops.Task], hosts: dict[str, DockerHost], cluster: str) -> None:
    """Update `watch` from the service's task list; raise RolloutFailed for a failure a user must act on."""
    process, now = watch.process, time.monotonic()
    for task in tasks:
        label = _task_label(process, task, hosts)
        if task.state in ("failed", "rejected"):
            why = task.error or task.state
            if "no such image" in why.lower():
                why += " (this node cannot get the image: push it to a registry every node can reach)"
            raise RolloutFailed(f"{label} {task.state} during start: {why}")
    current = [task for task in tasks if task.desired == "running"]
    pending = [task for task in current if task.state in ("pending", "new", "allocated", "assigned")]
    unplaced = [task for task in pending if "no suitable node" in task.error]
    if unplaced:
        watch.unplaced_since = watch.unplaced_since or now
        if now - watch.unplaced_since >= UNPLACEABLE_AFTER:
            raise RolloutFailed(
                f"Cluster {cluster} has no node for {process.process_type}.{unplaced[0].slot}: "
                f"{unplaced[0].error}. Scale down, lower the memory, or add a node."
            )
    else:
        watch.unplaced_since = None
    for task in current:
        if task.task_id in watch.healthy:
            continue
        if task.state != "running" or not task.container_id:
            watch.last = f"{_task_label(process, task, hosts)} is {task.state}"
            continue
        host = hosts.get(task.node_id)
        if host is None:
            raise RolloutFailed(
                f"{process.process_type}.{task.slot} runs on Swarm node {task.node_id[:12]}, which is not registered "
                f"as a host of cluster {cluster}: register it (its engine URL and the address the router reaches)."
            )
        since = watch.running_since.setdefault(task.task_id, now)
        ok, why = _healthy(process, task, host, since)
        if ok:
            watch.healthy[task.task_id] = task
        else:
            watch.last = f"{_task_label(process, task, hosts)}: {why}"
            if now - since > process.settings["healthcheck_timeout"]:
                what = f"GET {process.settings['healthcheck'] or '/'} on port {CONTAINER_PORT}"
                raise RolloutFailed(
                    f"{_task_label(process, task, hosts)} did not pass its health check ({what}) within "
                    f"{process.settings['healthcheck_timeout']} s: {why}. Make the process listen on $PORT and "
                    f"answer with 2xx/3xx, or raise the health check timeout."
                )
    live = {task.task_id for task in current}
    watch.healthy = {task_id: task for task_id, task in watch.healthy.items() if task_id in live}


def tasks_wait(
    *, manager: EngineSpec, app: App, processes: Iterable[SwarmProcess], superseded: Callable[[], bool]
) -> dict[str, list[swarm_ops.Task]]:
    """Wait until every service runs its replicas, each task healthy; return {service id: its healthy tasks}."""
    hosts = {host.node_id: host for host in DockerHost.objects.filter(cluster=app.cluster_id)}
    watches = [_Watch(process=process, healthy={}, running_since={}) for process in processes]
    timeout = SCHEDULE_TIMEOUT + max(w.process.settings["healthcheck_timeout"] for w in watches)
    deadline = time.monotonic() + timeout
    while True:
        for watch in watches:
            tasks = swarm_ops.service_tasks(manager, service_id=watch.process.service_id)
            _look(watch, tasks, hosts, app.cluster.name)
        if all(len(watch.healthy) == watch.process.replicas for watch in watches):
            return {watch.process.service_id: list(watch.healthy.values()) for watch in watches}
        if superseded():
            raise Superseded()
        if time.monotonic() > deadline:
            waiting = "; ".join(watch.last for watch in watches if len(watch.healthy) != watch.process.replicas)
            raise RolloutFailed(f"The cluster did not run every task healthy within {timeout} s: {waiting}.")
        time.sleep(POLL)


def tasks_record(
    *,
    deployment: Deployment,
    process: SwarmProcess,
    tasks: list[swarm_ops.Task],
    routed: bool = False,
    gone_state: str = ContainerState.EXITED,
) -> list[Container]:
    """Make the rows of `process`'s service the tasks that run: a row for each new task (of `deployment`), the
    rows of tasks gone marked `gone_state`. Return the rows that went."""
    app, release = deployment.app, deployment.release
    hosts = {host.node_id: host for host in DockerHost.objects.filter(cluster=app.cluster_id)}
    rows = Container.objects.filter(app=app, state__in=LIVE_STATES, name__startswith=f"{process.service}.")
    known = {row.engine_id: row for row in rows}
    running = {task.container_id for task in tasks}
    gone = [row for engine_id, row in known.items() if engine_id not in running]
    with transaction.atomic():
        for task in tasks:
            if task.container_id in known:
                continue
            Container.objects.create(
                host=hosts[task.node_id],
                app=app,
                release=release,
                deployment=deployment,
                process_type=process.process_type,
                index=task.slot,
                engine_id=task.container_id,
                name=f"{process.service}.{task.slot}.{task.task_id}",
                host_port=task.host_port,
                memory_mb=process.settings["memory_mb"],
                state=ContainerState.RUNNING,
                routed=routed and process.process_type == WEB,
            )
        Container.objects.filter(pk__in=[row.pk for row in gone]).update(
            state=gone_state, routed=False, updated_at=timezone.now()
        )
    return gone


def app_labels(app: App) -> dict[str, str]:
    return {TENANT_LABEL: app.tenant.slug, APP_LABEL: app.slug}


def services_remove(manager: EngineSpec, services: Iterable[dict]) -> list[str]:
    """Remove services (their tasks get SIGTERM, then SIGKILL after the grace); return the errors met."""
    errors = []
    for service in services:
        try:
            swarm_ops.service_remove(manager, service_id=service["id"])
        except EngineError as exc:
            errors.append(f"{service['name']}: {exc.message}")
    return errors


def containers_leave(containers: list[Container], *, keep_deployment: int | None = None) -> list[str]:
    """Stop what `containers` run, whichever scheduler started them: a cluster's by removing their release's
    services but `keep_deployment`'s (a task container stopped directly would be replaced by Swarm), a host's by
    stopping them. Return the errors met."""
    standalone = [c for c in containers if not c.host.cluster_id]
    errors = containers_stop(standalone) if standalone else []
    on_clusters: dict[tuple[int, int], list[Container]] = {}
    for container in containers:
        if container.host.cluster_id:
            on_clusters.setdefault((container.app_id, container.host.cluster_id), []).append(container)
    for rows in on_clusters.values():
        app, manager = rows[0].app, cluster_spec(rows[0].host.cluster)
        versions = {str(row.release.version) for row in rows}
        try:
            services = swarm_ops.services_list(manager, labels=app_labels(app))
        except EngineError as exc:
            errors.append(exc.message)
            continue
        errors += services_remove(
            manager,
            [
                service
                for service in services
                if service["labels"].get(RELEASE_LABEL) in versions
                and service["labels"].get(DEPLOYMENT_LABEL) != str(keep_deployment)
            ],
        )
    return errors


def oneoff_run(manager: EngineSpec, spec: swarm_ops.ServiceSpec, *, timeout: int) -> tuple[int, str]:
    """Run a one-off service to its end; return (exit code, its last output). The service is always removed."""
    service_id = swarm_ops.service_create(manager, spec)
    try:
        deadline = time.monotonic() + timeout
        while True:
            tasks = swarm_ops.service_tasks(manager, service_id=service_id)
            ended = [t for t in tasks if t.state in ("complete", "failed", "rejected", "shutdown")]
            if ended:
                task = ended[0]
                output = swarm_ops.service_output(manager, service_id=service_id)
                if task.state == "rejected":
                    return 1, f"{task.error}. {output}".strip()
                code = task.exit_code if task.exit_code is not None else (0 if task.state == "complete" else 1)
                return code, output
            if time.monotonic() > deadline:
                output = swarm_ops.service_output(manager, service_id=service_id)
                return 124, f"did not finish within {timeout} s. {output}".strip()
            time.sleep(POLL)
    finally:
        with contextlib.suppress(EngineError):
            swarm_ops.service_remove(manager, service_id=service_id)


def app_services_remove(*, tenant: str, app: str) -> int:
    """Remove a deleted app's services from every cluster (before its task containers are swept: a task container
    stopped while its service lives is started again by Swarm); return how many were removed. Only services whose
    deployment no longer exists: an app created again under the same name keeps its new ones."""
    removed = 0
    for cluster in Cluster.objects.all():
        manager = cluster_spec(cluster)
        try:
            services = swarm_ops.services_list(manager, labels={TENANT_LABEL: tenant, APP_LABEL: app})
        except EngineError as exc:
            logger.warning("services of deleted app %s/%s on cluster %s: %s", tenant, app, cluster.name, exc.message)
            continue
        labelled = {int(s["labels"].get(DEPLOYMENT_LABEL, "0") or 0) for s in services}
        alive = {str(pk) for pk in Deployment.objects.filter(pk__in=labelled).values_list("pk", flat=True)}
        gone = [s for s in services if s["labels"].get(DEPLOYMENT_LABEL) not in alive]
        removed += len(gone) - len(services_remove(manager, gone))
    return removed


def clusters_reconcile() -> int:
    """Record the tasks Swarm runs now for every app on a cluster (a node lost, its tasks restarted elsewhere),
    and send the router to those that answer. Apps with a deployment in progress are left to it. Return the number
    of apps whose routes changed."""
    changed = []
    for app in App.objects.filter(cluster__isnull=False, current_release__isnull=False).select_related(
        "cluster", "tenant", "current_release"
    ):
        with app_turn(app.pk, timeout=0) as held:
            if held and _app_refresh(app):
                changed.append(app.pk)
    if changed:
        with transaction.atomic():
            version = routes.routing_bump(app_ids=changed)
        try:
            routes.routes_switch(version)
        except RouterError as exc:
            logger.warning("router did not take the cluster's moved tasks yet: %s", exc)
    return len(changed)


def _app_refresh(app: App) -> bool:
    release = app.current_release
    manager = manager_of(app)
    try:
        services = swarm_ops.services_list(manager, labels={**app_labels(app), RELEASE_LABEL: str(release.version)})
    except EngineError as exc:
        logger.warning("cluster %s skipped for app %s: %s", app.cluster.name, app, exc.message)
        return False
    hosts = {host.node_id: host for host in DockerHost.objects.filter(cluster=app.cluster_id)}
    deployment = (
        Deployment.objects.filter(app=app, release=release, status=DeploymentStatus.SUCCEEDED).order_by("-id").first()
    )
    if deployment is None:
        return False
    settings = release_processes(release=release)
    moved = False
    for service in services:
        process_type = service["labels"].get("berth.process", "")
        if process_type not in settings:
            continue
        process = SwarmProcess(
            process_type=process_type,
            replicas=service["replicas"] or 0,
            settings=settings[process_type],
            service=service["name"],
            service_id=service["id"],
        )
        tasks = []
        for task in swarm_ops.service_tasks(manager, service_id=service["id"]):
            host = hosts.get(task.node_id)
            if task.desired != "running" or task.state != "running" or not task.container_id or host is None:
                continue
            if process_type == WEB and not _healthy(process, task, host, time.monotonic())[0]:
                continue  # not answering yet: the next pass routes it
            tasks.append(task)
        before = Container.objects.filter(app=app, release=release, state__in=LIVE_STATES).count()
        gone = tasks_record(
            deployment=deployment, process=process, tasks=tasks, routed=True, gone_state=ContainerState.LOST
        )
        after = Container.objects.filter(app=app, release=release, state__in=LIVE_STATES).count()
        moved = moved or bool(gone) or after != before
    return moved
