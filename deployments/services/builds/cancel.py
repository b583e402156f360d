"""Cancelling a build: a pending one never runs, a running one is stopped on the engine.

The database is where a cancellation meets the worker that runs the build, which may be another process on another
machine: `build_cancel` marks the build cancelled at once, and the worker's `CancelWatch` sees it within
CANCEL_POLL_SECONDS and sets the event the engine adapter watches, which cuts the build's connection so dockerd
interrupts the running step and tags nothing. The worker then writes who cancelled it to the log, removes any tag it
made, creates no release and wakes the next pending build of the app.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection, transaction
from django.utils import timezone

from deployments.models import Build, BuildStatus
from deployments.services.builds.log import BuildLog
from portal.errors import Conflict
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.5
ACTIVE = (BuildStatus.PENDING, BuildStatus.RUNNING)


def canceller_name(build: Build) -> str:
    """Who cancelled the build, as the log and the error say it."""
    return build.cancelled_by.username if build.cancelled_by_id else "an administrator"


def build_cancel(*, build: Build, actor) -> Build:
    """Cancel a pending or running build and return it; Conflict (409) when it has already finished."""
    with transaction.atomic():
        locked = Build.objects.select_for_update().filter(pk=build.pk).first()
        if locked is None or locked.status not in ACTIVE:
            status = locked.status if locked is not None else "deleted"
            raise Conflict(
                f"Build {build.number} already ended ({status}): only a pending or running build can be cancelled.",
                code="build_finished",
            )
        was = locked.status
        index = locked.log.count("\n")
        locked.status = BuildStatus.CANCELLED
        locked.cancelled_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.error = f"cancelled by {canceller_name(locked)}"
        locked.finished_at = timezone.now()
        line = ""
        if was == BuildStatus.PENDING:
            # No worker will ever pick it up: the log is written here. A running build's worker writes its own.
            line = f"Build cancelled by {canceller_name(locked)} before it started."
            locked.log += f"{line}\n"
        locked.save(update_fields=["status", "cancelled_by", "error", "finished_at", "log"])
        audit_record(
            actor=actor,
            tenant=build.app.tenant,
            action="build.cancel",
            target=locked,
            diff={"number": locked.number, "status": [was, BuildStatus.CANCELLED]},
        )
        if line:
            transaction.on_commit(lambda: _announce(locked, index=index, line=line))
    return locked


def _announce(build: Build, *, index: int, line: str) -> None:
    """Tell the build's live viewers it was cancelled before it ran."""
    log = BuildLog(build)
    log.index = index
    log.announce(line)
    log.status(BuildStatus.CANCELLED, error=build.error)
    log.close()


def build_cancelled(build_id: int) -> bool:
    """Whether the build has been cancelled (read from the database, where the portal writes it)."""
    return Build.objects.filter(pk=build_id, status=BuildStatus.CANCELLED).exists()


class CancelWatch:
    """Watch the database for the cancellation of a running build and set `event` when it comes.

    A thread of its own, because a step like `RUN sleep 600` writes nothing for minutes; it uses (and closes) its
    own database connection.
    """

    def __init__(self, build_id: int):
        self.build_id = build_id
        self.event = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"build-{build_id}-cancel-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._done.wait(CANCEL_POLL_SECONDS):
                if build_cancelled(self.build_id):
                    self.event.set()
                    return
        except Exception:  # a watch that cannot read leaves the build running, as before cancellation existed
            logger.warning("the cancel watch of build %s stopped", self.build_id, exc_info=True)
        finally:
            connection.close()

    def close(self) -> None:
        self._done.set()
        self._thread.join()
