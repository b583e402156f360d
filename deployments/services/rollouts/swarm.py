"""The Swarm scheduler: what a rollout's and a scale's steps do for an app that runs on a cluster (`App.cluster`).

A release runs as one service per process type, `berth-<tenant>-<app>-v<version>-<process>-<deployment>`, created
beside the old release's services (blue/green): Swarm places the tasks on its nodes, Berth waits until every task
runs and answers its health check, records each task's container as a Container row on its node's DockerHost (the
node's address and the task's host-mode port, so routes, collectors, samplers and GC work per node unchanged), then
the router switches and drains as on the hosts, and the old release's services are removed. Until the switch nothing
users reach has changed, so a failure removes the new services and the old release keeps serving.

A scale changes a service's replicas; a crashed or moved task is Swarm's to replace, and clusters_reconcile records
the tasks Swarm runs now (a node lost, its tasks started on another) and sends the router to them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine import images as docker_images
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
    DeploymentKind,
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
    default_user,
    files_audit,
    labels_for,
    quota_check,
    release_env,
    release_files,
    release_image,
    release_processes,
    tenant_network,
    web_check,
)
from deployments.services.rollouts.steps import RELEASE_COMMAND_TIMEOUT, old_drain

logger = logging.getLogger(__name__)

# How long Swarm may take to give every task a node and start it, beyond the process's health check timeout.
SCHEDULE_TIMEOUT = 60
# A task Swarm leaves pending this long with "no suitable node" will not be placed: the rollout says why.
UNPLACEABLE_AFTER = 10
POLL = 0.25
SERVICE_NAME_MAX = 63  # a service name is a DNS label


@dataclass(frozen=True)
class SwarmProcess:
    """One service a deployment runs or changes: its process type, replicas and settings."""

    process_type: str
    replicas: int
    settings: dict
    service: str
    service_id: str = ""


@dataclass(frozen=True)
class SwarmPlan:
    """A deployment on a cluster: `processes` to create (a rollout) or to change (a scale), `new` the task slots
    they start, `leaving` the rows that go (the old release's, or the tasks a scale ended)."""

    image: str
    processes: tuple[SwarmProcess, ...]
    new: tuple[tuple[str, int], ...]
    leaving: tuple[Container, ...]


def service_name(*, deployment: Deployment, process_type: str) -> str:
    app, release = deployment.app, deployment.release
    name = f"berth-{app.tenant.slug}-{app.slug}-v{release.version}-{process_type}-{deployment.pk}"
    if len(name) <= SERVICE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: SERVICE_NAME_MAX - 9]}-{digest}"


def manager_of(app: App) -> EngineSpec:
    return cluster_spec(app.cluster)


def service_spec(*, deployment: Deployment, process: SwarmProcess, image: str) -> swarm_ops.ServiceSpec:
    """What the manager runs for `process` of the deployment's release; the mount of a secret file is audited."""
    release = deployment.release
    values = process.settings
    files_audit(release=release, container=process.service, host=deployment.app.cluster)
    command = values["healthcheck"] if values["healthcheck_kind"] == HealthcheckKind.COMMAND else ""
    return swarm_ops.ServiceSpec(
        name=process.service,
        image=image,
        command=shlex.split(values["command"]) if values.get("command") else None,
        env=release_env(release=release, process_type=process.process_type, port=CONTAINER_PORT),
        # Every task carries the same labels: a task's slot is its index, read from the task list.
        labels=labels_for(release=release, process_type=process.process_type, index=0, deployment_id=deployment.pk),
        network=tenant_network(tenant=deployment.app.tenant),
        replicas=process.replicas,
        memory_mb=values["memory_mb"],
        cpu=values["cpu"],
        port=CONTAINER_PORT if process.process_type == WEB else None,
        read_only=bool(values.get("read_only", True)),
        tmp_mb=int(values.get("tmp_mb", swarm_ops.TMP_MB)),
        default_user=default_user(),
        healthcheck_command=shlex.split(command) if command else [],
        secret_files=release_files(release=release),
    )


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
    *, deployment: Deployment, process: SwarmProcess, tasks: list[swarm_ops.Task], routed: bool = False
) -> list[Container]:
    """Make the release's rows of `process` the tasks that run: a row for each new task (of `deployment`), the
    rows of tasks gone marked exited. Return the rows that went."""
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
            state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
        )
    return gone


def _app_labels(app: App) -> dict[str, str]:
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
            services = swarm_ops.services_list(manager, labels=_app_labels(app))
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


class SwarmSteps:
    """The steps of a deployment on the app's cluster; mixed into the rollout and scale executions (execution.py),
    whose runs call them in the hosts' order."""

    deployment: Deployment
    release: object
    app: App

    def superseded(self) -> bool: ...

    @property
    def manager(self) -> EngineSpec:
        return manager_of(self.app)

    def plan(self) -> SwarmPlan:
        deployment, release, app = self.deployment, self.release, self.app
        processes = release_processes(release=release)
        image = release_image(release=release)
        quota_check(app=app, processes=processes)
        if deployment.kind == DeploymentKind.ROLLOUT:
            web_check(release=release, processes=processes)
            old = tuple(
                Container.objects.filter(app=app, state__in=LIVE_STATES)
                .exclude(deployment=deployment)
                .select_related("host__cluster", "release", "app__tenant")
            )
            wanted = tuple(
                SwarmProcess(
                    process_type=process_type,
                    replicas=values["quantity"],
                    settings=values,
                    service=service_name(deployment=deployment, process_type=process_type),
                )
                for process_type, values in sorted(processes.items(), key=lambda item: (item[0] != WEB, item[0]))
            )
            plan = SwarmPlan(
                image=image,
                processes=wanted,
                new=tuple((p.process_type, slot) for p in wanted for slot in range(1, p.replicas + 1)),
                leaving=old,
            )
            key = "replaces"
        else:
            running = {
                s["labels"].get("berth.process"): s
                for s in swarm_ops.services_list(
                    self.manager, labels={**_app_labels(app), RELEASE_LABEL: str(release.version)}
                )
            }
            changes, new = [], []
            for p_type, values in sorted(processes.items()):
                service = running.get(p_type)
                have = (service or {}).get("replicas") or 0
                if service is not None and have == values["quantity"]:
                    continue
                name = service["name"] if service else service_name(deployment=deployment, process_type=p_type)
                changes.append(
                    SwarmProcess(
                        process_type=p_type,
                        replicas=values["quantity"],
                        settings=values,
                        service=name,
                        service_id=service["id"] if service else "",
                    )
                )
                new += [(p_type, slot) for slot in range(have + 1, values["quantity"] + 1)]
            plan = SwarmPlan(image=image, processes=tuple(changes), new=tuple(new), leaving=())
            key = "stops"
        deployment.plan = {
            "image": image,
            "cluster": app.cluster.name,
            "services": {p.process_type: {"name": p.service, "replicas": p.replicas} for p in plan.processes},
            key: [c.pk for c in plan.leaving],
        }
        deployment.save(update_fields=["plan"])
        return plan

    def plan_detail(self, plan: SwarmPlan) -> str:
        return ", ".join(f"{p.process_type} x{p.replicas} as {p.service}" for p in plan.processes)

    def starts(self, plan: SwarmPlan) -> bool:
        return bool(plan.processes)

    def prepare(self, plan: SwarmPlan) -> None:
        """The image on the manager (a service's user is read from it; the nodes pull it themselves) and the
        tenant's overlay network."""
        why = docker_images.image_reachable(self.manager, image=plan.image)
        if why:
            raise RolloutFailed(f"Cluster {self.app.cluster.name} cannot run the release: {why}.")
        docker_ops.image_ensure(self.manager, image=plan.image)
        tenant = self.app.tenant
        swarm_ops.overlay_ensure(self.manager, name=tenant_network(tenant=tenant), labels={TENANT_LABEL: tenant.slug})

    def release_phase(self, plan: SwarmPlan) -> None:
        """Run the release command once, as a one-off task of the new release; its failure stops the rollout."""
        release = self.release
        first = plan.processes[0]
        process = replace(
            first,
            process_type="release",
            replicas=1,
            service=service_name(deployment=self.deployment, process_type="release"),
            settings={**first.settings, "command": release.release_command, "healthcheck_kind": HealthcheckKind.NONE},
        )
        spec = service_spec(deployment=self.deployment, process=process, image=plan.image)
        spec.oneoff, spec.port = True, None
        spec.env = release_env(release=release, process_type="release", port=None)
        code, output = oneoff_run(self.manager, spec, timeout=RELEASE_COMMAND_TIMEOUT)
        if code != 0:
            raise RolloutFailed(
                f"The release command `{release.release_command}` exited with status {code}; the new release "
                f"was not started. Its output: {output or '(none)'}"
            )

    def start(self, plan: SwarmPlan) -> SwarmPlan:
        """Create (a rollout) or resize (a scale) the services, wait until every task is healthy, record them."""
        started = []
        for process in plan.processes:
            if process.service_id:
                swarm_ops.service_update(self.manager, service_id=process.service_id, replicas=process.replicas)
                started.append(process)
            else:
                spec = service_spec(deployment=self.deployment, process=process, image=plan.image)
                started.append(replace(process, service_id=swarm_ops.service_create(self.manager, spec)))
        tasks = tasks_wait(manager=self.manager, app=self.app, processes=started, superseded=self.superseded)
        gone = []
        for process in started:
            gone += tasks_record(deployment=self.deployment, process=process, tasks=tasks[process.service_id])
        return replace(plan, processes=tuple(started), leaving=(*plan.leaving, *gone))

    def drain(self, plan: SwarmPlan) -> list[str]:
        return old_drain(deployment=self.deployment, plan=plan, stop=self._leave)

    def _leave(self, containers: list[Container]) -> list[str]:
        return containers_leave(containers, keep_deployment=self.deployment.pk)

    def retire(self, containers) -> list[str]:
        containers = list(containers)
        # The tasks a scale ended are gone already: Swarm stopped them.
        errors = self._leave(containers) if self.deployment.kind == DeploymentKind.ROLLOUT else []
        Container.objects.filter(pk__in=[c.pk for c in containers]).update(
            state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
        )
        return errors

    def remove_new(self) -> None:
        """Remove the services this deployment created, and record their tasks exited."""
        try:
            services = swarm_ops.services_list(
                self.manager, labels={**_app_labels(self.app), DEPLOYMENT_LABEL: str(self.deployment.pk)}
            )
            services_remove(self.manager, services)
        except EngineError as exc:
            logger.warning("services of deployment %s not removed: %s", self.deployment.pk, exc.message)
        Container.objects.filter(deployment=self.deployment, state__in=LIVE_STATES).update(
            state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
        )


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
        services = swarm_ops.services_list(manager, labels={**_app_labels(app), RELEASE_LABEL: str(release.version)})
    except EngineError as exc:
        logger.warning("cluster %s skipped for app %s: %s", app.cluster.name, app, exc.message)
        return False
    hosts = {host.node_id: host for host in DockerHost.objects.filter(cluster=app.cluster_id)}
    latest = Container.objects.filter(app=app, release=release).order_by("-id").select_related("deployment").first()
    if latest is None or latest.deployment is None:
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
        gone = tasks_record(deployment=latest.deployment, process=process, tasks=tasks, routed=True)
        after = Container.objects.filter(app=app, release=release, state__in=LIVE_STATES).count()
        moved = moved or bool(gone) or after != before
    return moved
