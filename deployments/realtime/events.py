"""What goes over the channel layer: the group of each live view and the events sent to it.

Publishers (the build log, a rollout's progress, the log collector) and the consumers that forward to browsers both
name their groups here, so the two sides cannot drift apart.
"""

import asyncio
import logging

from deployments.models import Deployment
from deployments.realtime import publisher

logger = logging.getLogger(__name__)

# Attempts of a consumer's group join: after a Redis restart the layer's pooled connection is dead and the first
# command on it fails ("Connection closed by server"); the next one opens a new connection.
JOIN_ATTEMPTS = 3

# Text per log-lines event (and so per WebSocket message); a line's metadata counts as LINE_OVERHEAD. A batch of
# 2,000 short lines stays one event; long lines (up to BERTH_LOG_MAX_LINE_KB each) are spread over several, so a
# client with a 1 MiB frame limit (the `websockets` default) keeps its connection.
EVENT_BYTES = 768 * 1024
LINE_OVERHEAD = 150


def build_group(build_id: int) -> str:
    """Return the group a build's log lines and status go to."""
    return f"build-{build_id}"


def deployment_group(deployment_id: int) -> str:
    """Return the group a deployment's progress goes to."""
    return f"deployment_{deployment_id}"


async def group_join(layer, group: str, channel: str) -> None:
    """Add `channel` to `group`, trying again on a failure of the layer's connection (raised after the last try)."""
    for attempt in range(1, JOIN_ATTEMPTS + 1):
        try:
            await layer.group_add(group, channel)
            return
        except Exception:  # redis-py's ConnectionError and its kin; the in-memory layer does not fail
            if attempt == JOIN_ATTEMPTS:
                raise
            logger.warning("joining %s failed (attempt %d), trying again", group, attempt, exc_info=True)
            await asyncio.sleep(0.1 * attempt)


def logs_group(*, app_id: int) -> str:
    """Return the group an app's live log lines go to."""
    return f"logs.app.{app_id}"


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


def deployment_publish(deployment: Deployment) -> None:
    """Send the deployment's state to its watchers, asynchronously and in order; never fails a rollout."""
    publisher.send_soon(
        deployment_group(deployment.pk), {"type": "deployment.event", "event": deployment_payload(deployment)}
    )


def log_lines_publish(*, app_id: int, messages: list[dict]) -> None:
    """Send a batch of line messages to the app's group, in order, in events of at most about EVENT_BYTES."""
    for chunk in _chunks(messages):
        publisher.send(logs_group(app_id=app_id), {"type": "log.lines", "lines": chunk})


def _chunks(messages: list[dict]):
    chunk: list[dict] = []
    size = 0
    for message in messages:
        text = message["line"]
        # JSON writes a non-ASCII character as \uXXXX: count six bytes for each, then.
        length = (len(text) if text.isascii() else 6 * len(text)) + LINE_OVERHEAD
        if chunk and size + length > EVENT_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += length
    if chunk:
        yield chunk
