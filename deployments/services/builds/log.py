"""A build's log on its way out: each line to the build's channel-layer group at once, to the database in batches."""

import time

from django.db.models import F, Value
from django.db.models.functions import Concat

from deployments.models import Build
from deployments.realtime import publisher
from deployments.realtime.events import build_group

_FLUSH_LINES = 50
_FLUSH_SECONDS = 0.5


class BuildLog:
    """Collect a build's log: every line goes to the channel-layer group at once and to the database in batches."""

    def __init__(self, build: Build):
        self.build_id = build.pk
        self.group = build_group(build.pk)
        self.pending: list[str] = []
        self.last_flush = time.monotonic()
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
        """Write what is left."""
        self.flush()

    def _publish(self, message: dict) -> None:
        # A live viewer missing a line must never fail the build; the stored log has it.
        publisher.send(self.group, message)
