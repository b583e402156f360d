"""One deployment of an app at a time, across every worker process on every machine.

On PostgreSQL a session-level advisory lock per app: held by the worker's database session for as long as it
executes, and released by the server the moment that session ends, so a worker killed with SIGKILL (or whose
connection was cut) never leaves the app locked. The embedded default (SQLite) runs its workers as threads of one
process, where a lock per app in memory does the same.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from django.db import Error, connection

# The first key of Berth's advisory locks ("brt1"): the second is the app's id.
LOCK_SPACE = 0x62727431
POLL = 0.25

_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


def _try_postgres(app_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, app_id])
        return bool(cursor.fetchone()[0])


def _release_postgres(app_id: int) -> None:
    # A session that is gone released its locks already.
    with contextlib.suppress(Error), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, app_id])


def worker_alive(app_id: int) -> bool | None:
    """Say whether some session holds the app's deployment lock (None where that cannot be known: SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 2 "
            "AND granted",
            [LOCK_SPACE, app_id],
        )
        return cursor.fetchone() is not None


@contextlib.contextmanager
def app_turn(app_id: int, *, timeout: float) -> Iterator[bool]:
    """Hold the app's deployment lock inside the block; yield False when it was not free within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    if connection.vendor == "postgresql":
        while not (held := _try_postgres(app_id)) and time.monotonic() < deadline:
            time.sleep(POLL)
        try:
            yield held
        finally:
            if held:
                _release_postgres(app_id)
        return
    with _local_guard:
        lock = _local_locks.setdefault(app_id, threading.Lock())
    held = lock.acquire(timeout=max(0.0, timeout))
    try:
        yield held
    finally:
        if held:
            lock.release()
