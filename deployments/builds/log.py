"""A build's log on its way out: each line to the build's channel-layer group at once, to the database in batches."""

import asyncio
import contextlib
import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import F, Value
from django.db.models.functions import Concat

from deployments.models import Build

logger = logging.getLogger(__name__)

_FLUSH_LINES = 50
_FLUSH_SECONDS = 0.5


def group_name(build_id: int) -> str:
    """Return the channel-layer group a build's log lines and status go to."""
    return f"build-{build_id}"


class BuildLog:
    """Collect a build's log: every line goes to the channel-layer group at once and to the database in batches."""

    def __init__(self, build: Build):
        self.build_id = build.pk
        self.group = group_name(build.pk)
        self.pending: list[str] = []
        self.last_flush = time.monotonic()
        self.layer = get_channel_layer()
        # One event loop for the whole build, so a networked layer (Redis) keeps its connection instead of opening
        # one per line (about 20 ms each through async_to_sync). The in-memory layer must be reached through
        # async_to_sync: its queues belong to the consumers' loop.
        self.loop = None
        if self.layer is not None and not isinstance(self.layer, InMemoryChannelLayer):
            self.loop = asyncio.new_event_loop()
        # Index of the next line in the stored log: a viewer that read the stored log skips what it already has.
        self.index = build.log.count("\n")

    def __call__(self, line: str) -> None:
        self.pending.append(line)
        self._publish({"type": "build.log", "build": self.build_id, "index": self.index, "line": line})
        self.index += 1
        if len(self.pending) >= _FLUSH_LINES or time.monotonic() - self.last_flush >= _FLUSH_SECONDS:
            self.flush()

    def announce(self, line: str) -> None:
        """Publish a line another writer already stored (a cancellation written by the portal, not the worker)."""
        self._publish({"type": "build.log", "build": self.build_id, "index": self.index, "line": line})
        self.index += 1

    def flush(self) -> None:
        if self.pending:
            text = "".join(f"{line}\n" for line in self.pending)
            Build.objects.filter(pk=self.build_id).update(log=Concat(F("log"), Value(text)))
            self.pending = []
        self.last_flush = time.monotonic()

    def status(self, status: str, *, error: str = "") -> None:
        self._publish({"type": "build.status", "build": self.build_id, "status": status, "error": error})

    def close(self) -> None:
        """Write what is left and release the connection of the channel layer."""
        self.flush()
        if self.loop is not None:
            with contextlib.suppress(Exception):
                self.loop.close()
            self.loop = None

    def _publish(self, message: dict) -> None:
        if self.layer is None:
            return
        try:
            if self.loop is not None:
                self.loop.run_until_complete(self.layer.group_send(self.group, message))
            else:
                async_to_sync(self.layer.group_send)(self.group, message)
        except Exception:  # a live viewer missing a line must never fail the build; the stored log has it
            logger.warning("could not publish to %s", self.group, exc_info=True)
