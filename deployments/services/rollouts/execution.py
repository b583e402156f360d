"""A deployment executed by the worker, step by step: a rollout of a release, or a scale of the current one.

A rollout: plan (validate, place) -> image on each host -> tenant network -> release phase -> start the new
containers and wait for their health checks -> switch the router -> stop the old containers. Until the switch nothing
the users reach has changed, so any failure before it removes the new containers and leaves the old release serving.
"""

from __future__ import annotations

import logging

from django.db import Error as DatabaseFailure
from django.db import transaction
from django.utils import timezone

from deployments.engine.client import EngineError
from deployments.models import (
    App,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Release,
    ReleaseStatus,
)
from deployments.router import RouterError
from deployments.services.rollouts import steps
from deployments.services.rollouts.errors import RolloutFailed, Superseded
from deployments.services.rollouts.locks import app_turn
from deployments.services.rollouts.plan import Plan, release_image, rollout_plan, scale_plan, tenant_network
from deployments.services.rollouts.progress import Recorder, publish
from deployments.services.rollouts.swarm import SwarmSteps
from deployments.services.rollouts.swarm_tasks import containers_leave
from portal.errors import ApplicationError

logger = logging.getLogger(__name__)

TURN_TIMEOUT = 300


class Execution:
    steps: list[str] = []

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.release = deployment.release
        self.app = deployment.app
        self.recorder = Recorder(deployment, self.steps)

    def superseded(self) -> bool:
        status = Deployment.objects.filter(pk=self.deployment.pk).values_list("status", flat=True).first()
        return status == DeploymentStatus.SUPERSEDED

    def begin(self) -> None:
        now = timezone.now()
        updated = Deployment.objects.filter(pk=self.deployment.pk, status=DeploymentStatus.PENDING).update(
            status=DeploymentStatus.RUNNING, started_at=now
        )
        if not updated:
            raise Superseded()
        self.deployment.status, self.deployment.started_at = DeploymentStatus.RUNNING, now
        publish(self.deployment)

    # What a scheduler does at each step: the hosts' by default, a Swarm cluster's in rollouts/swarm.py.
    def plan(self) -> Plan:
        unable = steps.image_unreachable(image=release_image(release=self.release))
        if self.deployment.kind == DeploymentKind.SCALE:
            return scale_plan(deployment=self.deployment, unable=unable)
        return rollout_plan(deployment=self.deployment, unable=unable)

    def starts(self, plan: Plan) -> bool:
        """Whether a scale's plan changes anything that runs (the hosts' starts containers, or it only stops some)."""
        return bool(plan.new)

    def plan_detail(self, plan: Plan) -> str:
        return ", ".join(f"{p.process_type}.{p.index}@{p.host.name}" for p in plan.new)

    def prepare(self, plan: Plan) -> None:
        steps.hosts_prepare(plan=plan, tenant=self.app.tenant)

    def release_phase(self, plan: Plan) -> None:
        steps.release_phase(deployment=self.deployment, plan=plan)

    def start(self, plan: Plan) -> Plan:
        return steps.containers_start(deployment=self.deployment, plan=plan, superseded=self.superseded)

    def drain(self, plan: Plan) -> list[str]:
        # The old containers are a cluster's tasks when the app just moved to the hosts: their services go.
        return steps.old_drain(deployment=self.deployment, plan=plan, stop=containers_leave)

    def retire(self, containers) -> list[str]:
        # A cluster's tasks, left by an app that moved to the hosts: their services go, which stops them.
        return steps.containers_retire(containers, stop=containers_leave)

    def remove_new(self) -> None:
        steps.new_remove(deployment=self.deployment)

    def release_done(self, status: str, error: str, *, pending: bool = False) -> None:
        steps.release_done(release=self.release, status=status, error=error, pending=pending)

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
            # with the last step's success, which the recorder leaves for the row's next write
            fields = {"status", "error", "finished_at", "progress", *self.recorder.unsaved}
            self.deployment.save(update_fields=sorted(fields))
            self.recorder.unsaved.clear()
        publish(self.deployment)


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)


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
        old = []
        try:
            with self.recorder.step("plan") as step:
                plan = self.plan()
                old = list(plan.leaving)
                step["detail"] = self.plan_detail(plan)
            network = tenant_network(tenant=self.app.tenant)
            with self.recorder.step("prepare", f"{plan.image} and network {network}", checkpoint=True):
                # The image and the tenant network on every target host, all hosts at once.
                self.prepare(plan)
            if self.release.release_command:
                with self.recorder.step("release", self.release.release_command, checkpoint=True):
                    self.release_phase(plan)
            with self.recorder.step("start", f"{len(plan.new)} container(s)", checkpoint=True):
                plan = self.start(plan)
            with self.recorder.step("route", checkpoint=True):
                switched = True
                steps.router_switch(deployment=self.deployment, leaving=old)
            with self.recorder.step("drain", f"{len(old)} old container(s)") as step:
                errors = self.drain(plan)
                if errors:
                    step["detail"] = "Some old containers did not stop cleanly: " + "; ".join(errors)
        except Superseded:
            if not switched:
                self.remove_new()
            self.release_done(ReleaseStatus.FAILED, "Superseded by a newer rollout before it served.")
            self.finish(DeploymentStatus.SUPERSEDED)
            return
        except (RolloutFailed, ApplicationError, EngineError, RouterError) as exc:
            message = _message(exc)
            if switched:
                steps.router_unswitch(deployment=self.deployment, old=old)
            self.remove_new()
            self.release_done(ReleaseStatus.FAILED, message)
            self.finish(DeploymentStatus.FAILED, message)
            return
        except DatabaseFailure:
            # The session may be gone, and the app's lock with it: the reconciler converges this deployment.
            logger.exception("rollout %s lost its database; left to the reconciler", self.deployment.pk)
            raise
        except BaseException as exc:
            logger.exception("rollout %s failed unexpectedly", self.deployment.pk)
            if switched:
                steps.router_unswitch(deployment=self.deployment, old=old)
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


class ScaleExecution(Execution):
    steps = ["plan", "start", "route", "drain"]

    def run(self) -> None:
        try:
            self.begin()
        except Superseded:
            return
        try:
            with self.recorder.step("plan") as step:
                plan = self.plan()
                step["detail"] = f"start {len(plan.new)}, stop {len(plan.leaving)}"
            if self.starts(plan):
                # A host the release's rollout did not use has no image yet: pull it there as a rollout does.
                self.prepare(plan)
            with self.recorder.step("start", f"{len(plan.new)} container(s)"):
                if self.starts(plan):
                    plan = self.start(plan)
            with self.recorder.step("route"):
                steps.router_switch(deployment=self.deployment, leaving=plan.leaving)
            with self.recorder.step("drain", f"{len(plan.leaving)} container(s)"):
                self.retire(plan.leaving)
        except Superseded:
            self.remove_new()
            self.finish(DeploymentStatus.SUPERSEDED)
            return
        except (RolloutFailed, ApplicationError, EngineError, RouterError) as exc:
            self.remove_new()
            self.finish(DeploymentStatus.FAILED, _message(exc))
            return
        self.finish(DeploymentStatus.SUCCEEDED)


class SwarmRolloutExecution(SwarmSteps, RolloutExecution):
    """A rollout on the app's Swarm cluster: a service per process type, blue/green through the router."""


class SwarmScaleExecution(SwarmSteps, ScaleExecution):
    """A scale on the app's Swarm cluster: the services' replicas, and their tasks recorded."""


def execution_for(deployment: Deployment) -> Execution:
    """The deployment's execution: on the hosts, or on the app's Swarm cluster when it has one."""
    rollout = deployment.kind == DeploymentKind.ROLLOUT
    if deployment.app.cluster_id:
        return SwarmRolloutExecution(deployment) if rollout else SwarmScaleExecution(deployment)
    return RolloutExecution(deployment) if rollout else ScaleExecution(deployment)


def deployment_execute(*, deployment_id: int) -> Deployment | None:
    """Run a queued deployment to its end (the task calls this). Idempotent: a finished one is left alone.

    One deployment of an app runs at a time, whichever worker holds it (rollouts/locks.py): a newer one waits for
    the one executing (which, superseded, stops at its next step); deployments of different apps run at once.
    """
    deployment = (
        Deployment.objects.select_related("app__tenant", "release__build", "release__app__tenant")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None or deployment.status != DeploymentStatus.PENDING:
        return deployment
    with app_turn(deployment.app_id, timeout=TURN_TIMEOUT) as held:
        if not held:
            # Left pending: the reconciler's next pass or a retry finds it; nothing ran twice.
            logger.warning("deployment %s waited %s s for its app's turn", deployment.pk, TURN_TIMEOUT)
            return deployment
        deployment.refresh_from_db()
        if deployment.status != DeploymentStatus.PENDING:
            return deployment
        _execute(deployment)
    deployment.refresh_from_db()
    return deployment


def _execute(deployment: Deployment) -> None:
    if deployment.kind == DeploymentKind.SCALE:
        current = App.objects.filter(pk=deployment.app_id).values_list("current_release_id", flat=True).first()
        if current != deployment.release_id:
            # A rollout replaced the release meanwhile; it started the formation's quantities itself.
            Deployment.objects.filter(pk=deployment.pk, status=DeploymentStatus.PENDING).update(
                status=DeploymentStatus.SUPERSEDED,
                error="A rollout of a newer release replaced this scale.",
                finished_at=timezone.now(),
            )
        else:
            execution_for(deployment).run()
    else:
        execution_for(deployment).run()
