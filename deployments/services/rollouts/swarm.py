"""The Swarm scheduler: what a rollout's and a scale's steps do for an app that runs on a cluster (`App.cluster`).

A release runs as one service per process type, `berth-<tenant>-<app>-v<version>-<process>-<deployment>`, created
beside the old release's services (blue/green): Swarm places the tasks on its nodes, Berth waits until every task
runs and answers its health check, records each task's container as a Container row on its node's DockerHost (the
node's address and the task's host-mode port, so routes, collectors, samplers and GC work per node unchanged), then
the router switches and drains as on the hosts, and the old release's services are removed. Until the switch nothing
users reach has changed, so a failure removes the new services and the old release keeps serving.

A scale changes a service's replicas; a crashed or moved task is Swarm's to replace, and the reconciler's pass
(swarm_tasks.clusters_reconcile) records the tasks Swarm runs now (a node lost, its tasks started on another) and
sends the router to them.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
from dataclasses import dataclass, replace

from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine import images as docker_images
from deployments.engine import swarm as swarm_ops
from deployments.engine.client import EngineError, EngineSpec
from deployments.engine.labels import DEPLOYMENT_LABEL, RELEASE_LABEL, TENANT_LABEL
from deployments.models import (
    LIVE_STATES,
    App,
    Container,
    ContainerState,
    Deployment,
    DeploymentKind,
    HealthcheckKind,
)
from deployments.services.rollouts.errors import RolloutFailed
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
from deployments.services.rollouts.steps import RELEASE_COMMAND_TIMEOUT, containers_retire, old_drain
from deployments.services.rollouts.swarm_tasks import (
    SwarmProcess,
    app_labels,
    containers_leave,
    manager_of,
    oneoff_run,
    services_remove,
    tasks_record,
    tasks_wait,
)

logger = logging.getLogger(__name__)

SERVICE_NAME_MAX = 63  # a service name is a DNS label


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


def _stopped_already(containers: list[Container]) -> list[str]:
    return []


class SwarmSteps:
    """The steps of a deployment on the app's cluster; mixed into the rollout and scale executions (execution.py),
    whose runs call them in the hosts' order."""

    # Set by Execution, as is superseded().
    deployment: Deployment
    release: object
    app: App

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
                    self.manager, labels={**app_labels(app), RELEASE_LABEL: str(release.version)}
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
        # The tasks a scale ended are gone already: Swarm stopped them.
        stop = self._leave if self.deployment.kind == DeploymentKind.ROLLOUT else _stopped_already
        return containers_retire(containers, stop=stop)

    def remove_new(self) -> None:
        """Remove the services this deployment created, and record their tasks exited."""
        try:
            services = swarm_ops.services_list(
                self.manager, labels={**app_labels(self.app), DEPLOYMENT_LABEL: str(self.deployment.pk)}
            )
            services_remove(self.manager, services)
        except EngineError as exc:
            logger.warning("services of deployment %s not removed: %s", self.deployment.pk, exc.message)
        Container.objects.filter(deployment=self.deployment, state__in=LIVE_STATES).update(
            state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
        )
