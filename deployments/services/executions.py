"""The steps of a rollout and of a scale, executed in order by the worker (see services/rollouts.py)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_EXCEPTION, wait

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.engine.labels import DEPLOYMENT_LABEL, TENANT_LABEL
from deployments.models import (
    LIVE_STATES,
    App,
    Container,
    ContainerState,
    Deployment,
    DeploymentStatus,
    DockerHost,
    Release,
    ReleaseStatus,
)
from deployments.router import RouterError
from deployments.services import routes
from deployments.services.containers import (
    WEB,
    Planned,
    container_name,
    pool,
    release_env,
    release_image,
    release_processes,
    remove_quietly,
    run_spec,
    start_and_check,
    stop_containers,
    tenant_network,
)
from deployments.services.hosts import host_spec
from deployments.services.placement import place
from deployments.services.progress import Recorder, publish
from portal.errors import ApplicationError
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

RELEASE_COMMAND_TIMEOUT = 600


class RolloutFailed(Exception):
    """Stop the rollout; `message` is what the user reads on the release and the deployment."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Superseded(Exception):
    pass


class Execution:
    steps: list[str] = []

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.release = deployment.release
        self.app = deployment.app
        self.recorder = Recorder(deployment, self.steps)
        self.new: list[Planned] = []
        self.abort = threading.Event()

    def superseded(self) -> bool:
        status = Deployment.objects.filter(pk=self.deployment.pk).values_list("status", flat=True).first()
        return status == DeploymentStatus.SUPERSEDED

    def checkpoint(self) -> None:
        if self.superseded():
            raise Superseded()

    def begin(self) -> None:
        now = timezone.now()
        updated = Deployment.objects.filter(pk=self.deployment.pk, status=DeploymentStatus.PENDING).update(
            status=DeploymentStatus.RUNNING, started_at=now
        )
        if not updated:
            raise Superseded()
        self.deployment.status, self.deployment.started_at = DeploymentStatus.RUNNING, now
        publish(self.deployment)

    def start_new(self, image: str) -> None:
        """Record, start and health-check the planned containers in parallel; the first failure stops them all."""
        with transaction.atomic():
            for planned in self.new:
                row = Container.objects.create(
                    host=planned.host,
                    app=self.app,
                    release=self.release,
                    deployment=self.deployment,
                    process_type=planned.process_type,
                    index=planned.index,
                    name=planned.name,
                    memory_mb=planned.settings["memory_mb"],
                    state=ContainerState.STARTING,
                )
                planned.row_id = row.pk
        specs = {
            planned.name: run_spec(release=self.release, planned=planned, image=image, deployment_id=self.deployment.pk)
            for planned in self.new
        }
        with pool(len(self.new)) as executor:
            futures = {executor.submit(self._start_one, planned, specs[planned.name]): planned for planned in self.new}
            pending = set(futures)
            failure: BaseException | None = None
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None and failure is None:
                        failure = future.exception()
                        self.abort.set()
                if failure is None and pending and self.superseded():
                    failure = Superseded()
                    self.abort.set()
        for planned in self.new:
            if planned.engine_id:
                Container.objects.filter(pk=planned.row_id).update(
                    engine_id=planned.engine_id, host_port=planned.host_port, updated_at=timezone.now()
                )
        if isinstance(failure, Superseded):
            raise failure
        if failure is not None:
            raise RolloutFailed(str(failure)) from failure
        Container.objects.filter(pk__in=[p.row_id for p in self.new]).update(
            state=ContainerState.RUNNING, updated_at=timezone.now()
        )

    def _start_one(self, planned: Planned, spec) -> None:
        try:
            start_and_check(planned=planned, spec=spec, cancelled=self.abort.is_set, on_started=self._record_started)
        finally:
            # A pool thread opens its own database connection; do not leak it.
            connection.close()

    @staticmethod
    def _record_started(planned: Planned) -> None:
        # Recorded at once, so a crash or a supersede later still finds the container by its id.
        Container.objects.filter(pk=planned.row_id).update(
            engine_id=planned.engine_id, host_port=planned.host_port, updated_at=timezone.now()
        )

    def remove_new(self) -> None:
        """Take away every container this deployment started (the rollout did not reach the router switch)."""
        rows = list(Container.objects.filter(deployment=self.deployment, state__in=LIVE_STATES).select_related("host"))
        with pool(len(rows) or 1) as executor:
            for row in rows:
                engine_id = row.engine_id or next((p.engine_id for p in self.new if p.row_id == row.pk), "")
                if engine_id:
                    executor.submit(remove_quietly, host=row.host, engine_id=engine_id)
                else:
                    executor.submit(self._remove_by_name, row)
        Container.objects.filter(pk__in=[row.pk for row in rows]).update(
            state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
        )

    def _remove_by_name(self, row: Container) -> None:
        # A container created just before a crash has no recorded id yet: its name finds it.
        try:
            found = docker_ops.containers_list(host_spec(row.host), labels={DEPLOYMENT_LABEL: str(self.deployment.pk)})
        except EngineError:
            return
        for seen in found:
            if seen["name"] == row.name:
                remove_quietly(host=row.host, engine_id=seen["engine_id"])

    def check_quota(self, processes: dict[str, dict]) -> None:
        tenant = self.app.tenant
        wanted = sum(values["quantity"] for values in processes.values())
        memory = sum(values["quantity"] * values["memory_mb"] for values in processes.values())
        others = Container.objects.filter(app__tenant=tenant, state__in=LIVE_STATES).exclude(app=self.app)
        used = others.aggregate(count=Count("id"), memory=Sum("memory_mb"))
        used_count, used_memory = used["count"] or 0, used["memory"] or 0
        if used_count + wanted > tenant.max_containers:
            raise RolloutFailed(
                f"The formation asks for {wanted} containers, but tenant {tenant.slug}'s quota allows "
                f"{tenant.max_containers} and its other apps run {used_count}: scale down, or ask for a larger quota."
            )
        if used_memory + memory > tenant.max_memory_mb:
            raise RolloutFailed(
                f"The formation asks for {memory} MB of memory, but tenant {tenant.slug}'s quota allows "
                f"{tenant.max_memory_mb} MB and its other apps use {used_memory} MB: scale down or lower the memory."
            )

    def plan_save(
        self,
        *,
        image: str,
        processes: dict[str, dict],
        wanted: list[tuple[str, int, int]],
        hosts: list[DockerHost],
        leaving: tuple[str, list[Container]],
    ) -> None:
        """Set the containers to start (`wanted` placed on `hosts`) and record the plan with those that go."""
        self.new = [
            Planned(
                process_type=process_type,
                index=index,
                host=host,
                name=container_name(release=self.release, process_type=process_type, index=index),
                settings=processes[process_type],
            )
            for (process_type, index, _memory), host in zip(wanted, hosts, strict=True)
        ]
        key, going = leaving
        self.deployment.plan = {
            "image": image,
            "containers": [
                {"process": p.process_type, "index": p.index, "host": p.host.name, "name": p.name} for p in self.new
            ],
            key: [c.pk for c in going],
        }
        self.deployment.save(update_fields=["plan"])

    def on_hosts(self, hosts, action) -> None:
        hosts = list(hosts)
        with pool(len(hosts)) as executor:
            futures = [executor.submit(action, host) for host in hosts]
        for future in futures:
            if future.exception() is not None:
                raise future.exception()

    def prepare_host(self, host: DockerHost, image: str) -> None:
        docker_ops.image_ensure(host_spec(host), image=image)
        self.network_ensure(host)

    def network_ensure(self, host: DockerHost) -> None:
        docker_ops.network_ensure(
            host_spec(host), name=tenant_network(tenant=self.app.tenant), labels={TENANT_LABEL: self.app.tenant.slug}
        )

    def finish(self, status: str, error: str = "") -> None:
        now = timezone.now()
        with transaction.atomic():
            deployment = Deployment.objects.select_for_update().get(pk=self.deployment.pk)
            self.deployment.status = status if deployment.status != DeploymentStatus.SUPERSEDED else deployment.status
            if status == DeploymentStatus.SUCCEEDED:
                self.deployment.status = status
            self.deployment.error = error or (
                deployment.error if self.deployment.status == DeploymentStatus.SUPERSEDED else ""
            )
            self.deployment.finished_at = now
            if self.deployment.status == DeploymentStatus.SUCCEEDED:
                self.deployment.progress = 100
            self.deployment.save(update_fields=["status", "error", "finished_at", "progress"])
        publish(self.deployment)


class RolloutExecution(Execution):
    steps = ["plan", "prepare", "release", "start", "route", "drain"]

    def run(self) -> None:
        try:
            self.begin()
        except Superseded:
            self.release_done(ReleaseStatus.FAILED, "Superseded by a newer rollout before it started.", pending=True)
            return
        if self.release.build_id is None:
            self.nothing_to_run()
            return
        Release.objects.filter(pk=self.release.pk, status=ReleaseStatus.PENDING).update(status=ReleaseStatus.DEPLOYING)
        switched = False
        try:
            with self.recorder.step("plan") as step:
                image, old = self.plan()
                step["detail"] = ", ".join(f"{p.process_type}.{p.index}@{p.host.name}" for p in self.new)
            self.checkpoint()
            hosts = {planned.host.pk: planned.host for planned in self.new}
            with self.recorder.step("prepare", f"{image} and network {tenant_network(tenant=self.app.tenant)}"):
                # The image and the tenant network on every target host, all hosts at once.
                self.on_hosts(hosts.values(), lambda host: self.prepare_host(host, image))
            if self.release.release_command:
                self.checkpoint()
                with self.recorder.step("release", self.release.release_command):
                    self.release_phase(image)
            self.checkpoint()
            with self.recorder.step("start", f"{len(self.new)} container(s)"):
                self.start_new(image)
            self.checkpoint()
            with self.recorder.step("route"):
                switched = True
                self.switch(old)
            with self.recorder.step("drain", f"{len(old)} old container(s)") as step:
                errors = self.drain(old)
                if errors:
                    step["detail"] = "Some old containers did not stop cleanly: " + "; ".join(errors)
        except Superseded:
            if not switched:
                self.remove_new()
            self.release_done(ReleaseStatus.FAILED, "Superseded by a newer rollout before it served.")
            self.finish(DeploymentStatus.SUPERSEDED)
            return
        except (RolloutFailed, ApplicationError, EngineError, RouterError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            if switched:
                self.unswitch(old)
            self.remove_new()
            self.release_done(ReleaseStatus.FAILED, message)
            self.finish(DeploymentStatus.FAILED, message)
            return
        except BaseException as exc:
            logger.exception("rollout %s failed unexpectedly", self.deployment.pk)
            if switched:
                self.unswitch(old)
            self.remove_new()
            self.release_done(ReleaseStatus.FAILED, f"Internal error during the rollout: {exc.__class__.__name__}")
            self.finish(DeploymentStatus.FAILED, f"Internal error: {exc.__class__.__name__}")
            raise
        self.finish(DeploymentStatus.SUCCEEDED)

    def nothing_to_run(self) -> None:
        """A release made before the app's first build (creation, config) has no image: it is recorded, not run."""
        with self.recorder.step("plan", f"Release v{self.release.version} has no build yet: nothing to run."):
            pass
        with transaction.atomic():
            App.objects.filter(pk=self.app.pk).update(current_release=self.release, updated_at=timezone.now())
            self.release_done(ReleaseStatus.SUCCEEDED, "")
        self.finish(DeploymentStatus.SUCCEEDED)

    def plan(self) -> tuple[str, list[Container]]:
        processes = release_processes(release=self.release)
        if WEB not in processes:
            raise RolloutFailed(
                f"Release v{self.release.version} has no web process, so the router has nothing to send traffic to: "
                "add a `web:` line to the Procfile (or a web entry to the formation)."
            )
        image = release_image(release=self.release)
        self.check_quota(processes)
        old = list(
            Container.objects.filter(app=self.app, state__in=LIVE_STATES)
            .exclude(deployment=self.deployment)
            .select_related("host")
        )
        wanted = [
            (process_type, index, values["memory_mb"])
            for process_type, values in sorted(processes.items())
            for index in range(1, values["quantity"] + 1)
        ]
        hosts = place(app_id=self.app.pk, wanted=wanted, leaving={c.pk for c in old})
        self.plan_save(image=image, processes=processes, wanted=wanted, hosts=hosts, leaving=("replaces", old))
        return image, old

    def release_phase(self, image: str) -> None:
        host = self.new[0].host
        planned = Planned(
            process_type="release",
            index=0,
            host=host,
            name=container_name(release=self.release, process_type="release", index=0),
            settings={**self.new[0].settings, "command": self.release.release_command},
        )
        spec = run_spec(release=self.release, planned=planned, image=image, deployment_id=self.deployment.pk)
        spec.port = None
        spec.env = release_env(release=self.release, process_type="release", port=None)
        code, output = docker_ops.oneoff_run(host_spec(host), spec, timeout=RELEASE_COMMAND_TIMEOUT)
        if code != 0:
            raise RolloutFailed(
                f"The release command `{self.release.release_command}` exited with status {code}; the new release "
                f"was not started. Its output: {output or '(none)'}"
            )

    def switch(self, old: list[Container]) -> None:
        """Send traffic to the new web containers only; return once no request can still reach the old ones."""
        with transaction.atomic():
            Container.objects.filter(pk__in=[c.pk for c in old]).update(routed=False)
            Container.objects.filter(deployment=self.deployment, process_type=WEB).update(routed=True)
            version = routes.routing_bump()
        # Every router serves the new containers only, and the nginx workers its reload replaced (which know only the
        # old containers) have finished the requests they held.
        routes.routes_switch(version)

    def drain(self, old: list[Container]) -> list[str]:
        """Stop the old containers; meanwhile the release is recorded as the app's current one."""
        with pool(1) as executor:
            stopping = executor.submit(self._stop_thread, old)
            with transaction.atomic():
                App.objects.filter(pk=self.app.pk).update(current_release=self.release, updated_at=timezone.now())
                self.release_done(ReleaseStatus.SUCCEEDED, "")
                audit_record(
                    actor=None,
                    tenant=self.app.tenant,
                    action="release.deploy",
                    target=self.release,
                    diff={"deployment": self.deployment.pk, "containers": len(self.new)},
                )
        return stopping.result()

    @staticmethod
    def _stop_thread(old: list[Container]) -> list[str]:
        try:
            return stop_containers(old)
        finally:
            connection.close()

    def unswitch(self, old: list[Container]) -> None:
        with transaction.atomic():
            Container.objects.filter(deployment=self.deployment).update(routed=False)
            Container.objects.filter(pk__in=[c.pk for c in old if c.process_type == WEB]).update(routed=True)
            version = routes.routing_bump()
        try:
            routes.routes_switch(version)
        except RouterError:
            logger.exception("router could not be restored after the failed rollout %s", self.deployment.pk)

    def release_done(self, status: str, error: str, *, pending: bool = False) -> None:
        """Record how the release's rollout ended (with `pending`, only if no other rollout of it began)."""
        releases = Release.objects.filter(pk=self.release.pk)
        if pending:
            releases = releases.filter(status=ReleaseStatus.PENDING)
        releases.update(status=status, error=error[:5000], finished_at=timezone.now())


class ScaleExecution(Execution):
    steps = ["plan", "start", "route", "drain"]

    def run(self) -> None:
        try:
            self.begin()
        except Superseded:
            return
        try:
            with self.recorder.step("plan") as step:
                image, extra = self.plan()
                step["detail"] = f"start {len(self.new)}, stop {len(extra)}"
            if self.new:
                hosts = {planned.host.pk: planned.host for planned in self.new}
                self.on_hosts(hosts.values(), self.network_ensure)
            with self.recorder.step("start", f"{len(self.new)} container(s)"):
                if self.new:
                    self.start_new(image)
            with self.recorder.step("route"):
                with transaction.atomic():
                    Container.objects.filter(pk__in=[c.pk for c in extra]).update(routed=False)
                    Container.objects.filter(deployment=self.deployment, process_type=WEB).update(routed=True)
                    version = routes.routing_bump()
                routes.routes_switch(version)
            with self.recorder.step("drain", f"{len(extra)} container(s)"):
                stop_containers(extra)
        except Superseded:
            self.remove_new()
            self.finish(DeploymentStatus.SUPERSEDED)
            return
        except (RolloutFailed, ApplicationError, EngineError, RouterError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            self.remove_new()
            self.finish(DeploymentStatus.FAILED, message)
            return
        self.finish(DeploymentStatus.SUCCEEDED)

    def plan(self) -> tuple[str, list[Container]]:
        processes = release_processes(release=self.release)
        image = release_image(release=self.release)
        self.check_quota(processes)
        live = list(
            Container.objects.filter(app=self.app, release=self.release, state__in=LIVE_STATES).select_related("host")
        )
        wanted, extra = [], []
        for process_type, values in sorted(processes.items()):
            have = {c.index: c for c in live if c.process_type == process_type}
            for index in range(1, values["quantity"] + 1):
                if index not in have:
                    wanted.append((process_type, index, values["memory_mb"]))
            extra += [c for index, c in have.items() if index > values["quantity"]]
        extra += [c for c in live if c.process_type not in processes]
        hosts = place(app_id=self.app.pk, wanted=wanted, leaving={c.pk for c in extra}) if wanted else []
        self.plan_save(image=image, processes=processes, wanted=wanted, hosts=hosts, leaving=("stops", extra))
        return image, extra
