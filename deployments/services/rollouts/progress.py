"""A deployment's recorded steps, and the progress events published to its WebSocket group."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from contextlib import contextmanager

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


class _Publisher:
    """Send events in order from one thread with its own event loop.

    A group_send through async_to_sync opens a fresh Redis connection each time (tens of milliseconds); one long-lived
    loop keeps the connection and takes publishing off the rollout's path.
    """

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def send(self, group: str, message: dict) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="berth-progress", daemon=True)
                self.thread.start()
        self.queue.put((group, message))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every event queued so far was handed to the channel layer."""
        done = threading.Event()
        self.queue.put((None, done))
        done.wait(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            group, message = self.queue.get()
            if group is None:
                message.set()
                continue
            layer = get_channel_layer()
            if layer is None:
                continue
            try:
                loop.run_until_complete(layer.group_send(group, message))
            except Exception:  # the layer is a side channel: log it, keep deploying
                logger.warning("could not publish to %s", group, exc_info=True)


_publisher = _Publisher()


def publish(deployment: Deployment) -> None:
    """Send the deployment's state to its watchers (asynchronously, in order); never fails a rollout."""
    _publisher.send(
        deployment_group(deployment.pk), {"type": "deployment.event", "event": deployment_payload(deployment)}
    )


def publish_flush() -> None:
    _publisher.flush()


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
