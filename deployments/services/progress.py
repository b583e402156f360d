"""A deployment's recorded steps, and the progress events published to its WebSocket group."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from deployments.models import Deployment

logger = logging.getLogger(__name__)


def deployment_group(deployment_id: int) -> str:
    return f"deployment_{deployment_id}"


def deployment_payload(deployment: Deployment) -> dict:
    return {
        "id": deployment.pk,
        "kind": deployment.kind,
        "release": deployment.release.version,
        "status": deployment.status,
        "progress": deployment.progress,
        "steps": deployment.steps,
        "error": deployment.error,
        "created_at": deployment.created_at.isoformat() if deployment.created_at else None,
        "started_at": deployment.started_at.isoformat() if deployment.started_at else None,
        "finished_at": deployment.finished_at.isoformat() if deployment.finished_at else None,
    }


def publish(deployment: Deployment) -> None:
    """Send the deployment's state to its watchers; a missing channel layer never fails a rollout."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            deployment_group(deployment.pk), {"type": "deployment.event", "event": deployment_payload(deployment)}
        )
    except Exception:  # the layer is a side channel: log it, keep deploying
        logger.warning("could not publish progress of deployment %s", deployment.pk, exc_info=True)


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
