"""A deployment's recorded steps, and the progress events published to its WebSocket group."""

from __future__ import annotations

from contextlib import contextmanager

from django.utils import timezone

from deployments.models import Deployment
from deployments.realtime.events import deployment_publish as publish


class Recorder:
    """Record steps on the Deployment row as they start and finish, and publish each change."""

    def __init__(self, deployment: Deployment, planned_steps: list[str]):
        self.deployment = deployment
        self.planned = planned_steps

    def save(self, *fields: str) -> None:
        self.deployment.save(update_fields=list(fields))
        publish(self.deployment)

    def _progress(self) -> int:
        done = sum(1 for step in self.deployment.steps if step["status"] == "succeeded")
        return min(100, int(100 * done / max(len(self.planned), 1)))

    @contextmanager
    def step(self, name: str, detail: str = ""):
        entry = {
            "name": name,
            "status": "running",
            "started_at": timezone.now().isoformat(),
            "finished_at": None,
            "detail": detail,
        }
        self.deployment.steps = [*self.deployment.steps, entry]
        self.save("steps")
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
        self.save("steps", "progress")
