"""What HAProxy serves, kept by the driver: the lock several threads and processes take turns under, state.json,
and the files a restart reads (haproxy.cfg, the maps, the allowlists)."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager

from deployments.router import config
from deployments.router.config import Backend, RouteSettings
from deployments.router.files import self_signed_pem, write_atomic, write_private

logger = logging.getLogger(__name__)

SLOTS_MIN = 32  # allowlist slots in the config; more when more apps have an allowlist
CIDR = re.compile(r"^[0-9a-fA-F.:]+(/[0-9]{1,3})?$")


def _settings_from(data: dict) -> RouteSettings:
    return RouteSettings(**{**data, "allow": tuple(data.get("allow", ()))})


class StateMixin:
    """The driver's lock and state (mixed into HAProxy, whose paths and process it uses)."""

    def wait_written(self) -> None:
        """Return once the state of the last change is written (it is written after the change returns)."""
        with self._thread_lock:
            pass

    @contextmanager
    def _locked(self):
        """Hold this router against the other threads and processes driving it, with its state up to date.

        A change may leave the writing of its state for later (`_deferred`): a writer thread then does it and releases
        the locks, so the caller returns as soon as HAProxy serves the change and nobody sees the state before it is
        written.
        """
        self._thread_lock.acquire()
        lock = None
        try:
            self._prepare()
            lock = open(self.prefix / "router.lock", "a")  # noqa: SIM115 - released by _unlock, maybe in the writer
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._sync_state()
            self._prepare()  # again when HAProxy does not run as this process knew it
            yield
        except BaseException:
            self._deferred = None
            self._unlock(lock)
            raise
        if self._deferred is None:
            self._unlock(lock)
            return
        changed, maps = self._deferred
        self._deferred = None
        self._writer().put((changed, maps, lock))

    def _writer(self) -> queue.SimpleQueue:
        """The queue of this process's writer thread (started at first use): handing it a change does not wait."""
        writer = self._writes
        if writer is None or writer[0] != os.getpid():  # none yet, or made before a fork: threads do not survive it
            writer = (os.getpid(), queue.SimpleQueue())
            threading.Thread(target=self._write_loop, args=(writer[1],), daemon=True).start()
            self._writes = writer
        return writer[1]

    def _write_loop(self, writes: queue.SimpleQueue) -> None:
        while True:
            changed, maps, lock = writes.get()
            try:
                self._persist(changed, maps=maps)
            except Exception:
                logger.exception("router: the state of %s could not be written", self.prefix)
                self._forget(self._master_pid)  # re-read or rebuilt at the next change
            finally:
                self._unlock(lock)

    def _unlock(self, lock) -> None:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        self._thread_lock.release()

    def _prepare(self) -> None:
        if self._prepared:  # done while HAProxy runs as this process knows it (see _forget)
            return
        for sub in ("maps", "acl", "certs"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        if not self.layout.crt_list.exists():
            self.layout.crt_list.write_text("")
        if not self.layout.lua_path.exists() or self.layout.lua_path.read_text() != config.LUA:
            write_atomic(self.layout.lua_path, config.LUA)
        if not self.layout.default_cert.exists():
            write_private(self.layout.default_cert, self_signed_pem())
        self._prepared = True

    def _sync_state(self) -> None:
        """Take over what another process applied (the state's serial moved), or forget a HAProxy that restarted."""
        pid = self.pid()
        try:
            master, serial = self.serial_path.read_text().split()
            master = int(master)
        except (OSError, ValueError):
            master, serial = None, ""
        if pid is None or master != pid:
            self._forget(pid)
            return
        if self._backends is not None and serial == self._serial and self._master_pid == pid:
            return
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            self._forget(pid)
            return
        backends = {}
        for row in state["backends"]:
            backends[row["name"]] = Backend(
                name=row["name"],
                key=row["key"],
                hostnames=set(row["hostnames"]),
                servers=dict(row["servers"]),
                settings=_settings_from(row["settings"]),
                slot=row.get("slot", 0),
            )
        self._challenges = dict(state.get("challenges", {}))
        self._slots = state.get("slots", SLOTS_MIN)
        self._set_backends(backends)
        self._serial = serial
        self._master_pid = pid

    def _forget(self, pid: int | None) -> None:
        """Know nothing of what HAProxy serves (it does not run, or ran before this process knew its state)."""
        self._backends = None
        self._applied = {}
        self._blocks, self._rows = {}, {}
        self._prepared = False
        try:
            self._challenges = dict(json.loads(self.state_path.read_text()).get("challenges", {}))
        except (OSError, ValueError, AttributeError):
            self._challenges = {}
        self._master_pid = pid

    def _set_backends(self, backends: dict[str, Backend]) -> None:
        self._backends = backends
        self._by_key = {backend.key: name for name, backend in backends.items() if backend.key}
        self._applied = {}
        self._maps = {name: {} for name in config.MAPS}
        for backend in backends.values():
            for name, entries in config.map_entries(backend).items():
                self._maps[name].update(entries)
        self._maps["challenges"] = dict(self._challenges)
        self._blocks, self._rows = {}, {}
        self._order = []

    def _persist(self, changed: Iterable[str] | None = None, maps: Iterable[str] | None = None) -> None:
        """Write the current state where a restart (haproxy.cfg, maps) and the other processes (state.json) read it.

        Only the sections of the `changed` backends are rendered again (all when None), and only the `maps` named.
        """
        started = time.perf_counter()
        backends = self._backends
        stale = set(backends) if changed is None else {name for name in changed if name in backends}
        stale |= set(backends) - set(self._blocks)
        for name in stale:
            backend = backends[name]
            self._blocks[name] = config.render_backend(self.layout, backend)
            self._rows[name] = json.dumps(
                {
                    "name": backend.name,
                    "key": backend.key,
                    "hostnames": sorted(backend.hostnames),
                    "servers": backend.servers,
                    "settings": dataclasses.asdict(backend.settings),
                    "slot": backend.slot,
                }
            )
        if len(self._order) != len(backends):
            self._order = sorted(backends, key=lambda name: int(name[1:]))
        order = self._order
        for name in config.MAPS if maps is None else maps:
            entries = self._maps[name]
            write_atomic(self.layout.map_path(name), "".join(f"{k} {v}\n" for k, v in sorted(entries.items())))
        write_atomic(
            self.conf_path, config.render_head(self.layout, self._slots) + "".join(map(self._blocks.__getitem__, order))
        )
        self._serial = secrets.token_hex(8)
        master = self.pid()
        head = json.dumps(
            {"master": master, "serial": self._serial, "slots": self._slots, "challenges": self._challenges}
        )
        write_atomic(
            self.state_path, head[:-1] + ', "backends": [' + ", ".join(map(self._rows.__getitem__, order)) + "]}"
        )
        write_atomic(self.serial_path, f"{master} {self._serial}\n")
        self._master_pid = master
        self.last_persist_ms = (time.perf_counter() - started) * 1000

    def _write_acls(self) -> None:
        """Write each allowlist slot's file: the addresses of the app holding it, or nothing."""
        texts = {slot: "" for slot in range(1, self._slots + 1)}
        for backend in self._backends.values():
            if backend.slot:
                texts[backend.slot] = "".join(f"{cidr}\n" for cidr in backend.settings.allow if CIDR.match(cidr))
        for slot, text in texts.items():
            path = self.layout.acl_path(slot)
            if not path.exists() or path.read_text() != text:
                write_atomic(path, text)
