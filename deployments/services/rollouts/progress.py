"""A deployment's recorded steps, and the progress events published to its WebSocket group."""

from __future__ import annotations

from contextlib import contextmanager

from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus
from deployments.realtime.events import deployment_publish as publish
from deployments.services.rollouts.errors import Superseded


class Recorder:
    """Record steps on the Deployment row as they start and finish, and publish each change.

    A step's success is published at once and written with the next write of the row (the next step's start, or the
    deployment's end: `unsaved`), one statement instead of two; a failure is written at once.
    """

    def __init__(self, deployment: Deployment, planned_steps: list[str]):
        self.deployment = deployment
        self.planned = planned_steps
        self.unsaved: set[str] = set()  # fields changed on the row in memory and not yet written

    def save(self, *fields: str) -> None:
        self.deployment.save(update_fields=sorted({*fields, *self.unsaved}))
        self.unsaved.clear()
        publish(self.deployment)

    def _progress(self) -> int:
        done = sum(1 for step in self.deployment.steps if step["status"] == "succeeded")
        return min(100, int(100 * done / max(len(self.planned), 1)))

    def _start(self, *, checkpoint: bool) -> None:
        """Write the new step (and what is unsaved); with `checkpoint`, only if no newer deployment superseded it."""
        if not checkpoint:
            self.save("steps")
            return
        fields = {"steps", *self.unsaved}
        values = {name: getattr(self.deployment, name) for name in fields}
        rows = Deployment.objects.filter(pk=self.deployment.pk).exclude(status=DeploymentStatus.SUPERSEDED)
        if not rows.update(**values):
            raise Superseded()
        self.unsaved.clear()
        publish(self.deployment)

    @contextmanager
    def step(self, name: str, detail: str = "", *, checkpoint: bool = False):
        """Run a step; with `checkpoint`, raise Superseded before it when a newer deployment superseded this one."""
        entry = {
            "name": name,
            "status": "running",
            "started_at": timezone.now().isoformat(),
            "finished_at": None,
            "detail": detail,
        }
        previous = self.deployment.steps
        self.deployment.steps = [*previous, entry]
        try:
            self._start(checkpoint=checkpoint)
        except Superseded:
            self.deployment.steps = previous
            raise
        try:
            yield entry
        except BaseException as exc:
            entry["status"] = "failed"
            entry["finished_at"] = timezone.now().isoformat()
            entry["detail"] = entry["detail"] or str(getattr(exc, "message", "") or exc)
            self.deployment.steps = list(self.deployment.steps)
            self.save("steps")
            raise
        entry["status"] = "succeeded"
        entry["finished_at"] = timezone.now().isoformat()
        self.deployment.steps = list(self.deployment.steps)
        self.deployment.progress = self._progress()
        self.unsaved |= {"steps", "progress"}
        publish(self.deployment)
