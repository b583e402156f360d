"""HAProxy as a process Berth manages: master-worker under its own prefix, changed at runtime, not reloaded on a switch.

`apply(routes)` compares the routes with what HAProxy serves and changes only the difference through the admin
socket: new servers are added and enabled before the old ones go to maintenance, hostnames and settings are map
entries, and an old server is gone once HAProxy accepts `del server` (it refuses while the server still holds a
connection: that is the drain signal). New apps take spare backends; only when none is left does the driver rewrite
the config and reload seamlessly (the new worker takes over the listening sockets; the old one finishes its requests).
Everything applied is also written to haproxy.cfg, the map files and state.json, so a restart serves the same thing.

Several processes on a machine may drive the same HAProxy (the embedded portal's router loop and a rollout applying
its switch inline): they take turns under a file lock, and state.json's serial tells one that another changed it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from pathlib import Path

from deployments.router import config
from deployments.router.config import Backend, Layout, Route
from deployments.router.files import write_atomic
from deployments.router.process import ProcessMixin
from deployments.router.runtime import Cli, RouterError
from deployments.router.state import SLOTS_MIN, StateMixin
from deployments.router.switch import Applied, SwitchMixin, _backend_for
from deployments.router.tls import TlsMixin

__all__ = ["Applied", "HAProxy", "RouterError"]

SPARES_MIN = 32


class HAProxy(ProcessMixin, StateMixin, SwitchMixin, TlsMixin):
    """One HAProxy master under `prefix`, serving HTTP on `bind:port` and HTTPS on `bind:tls_port`."""

    def __init__(
        self,
        *,
        prefix: Path,
        port: int,
        tls_port: int,
        binary: str = "/usr/sbin/haproxy",
        bind: str = "127.0.0.1",
        https_port: int | None = None,
        spares: int = SPARES_MIN,
    ):
        self.prefix = Path(prefix).resolve()
        self.port = port
        self.tls_port = tls_port
        self.binary = binary
        self.bind = bind
        self.spares_min = spares
        self.layout = Layout(self.prefix, bind, port, tls_port, https_port or tls_port)
        self.conf_path = self.prefix / "haproxy.cfg"
        self.pid_path = self.prefix / "haproxy.pid"
        self.state_path = self.prefix / "state.json"
        self.serial_path = self.prefix / "state.serial"
        self.admin = Cli(self.layout.admin_socket)
        self.master = Cli(self.layout.master_socket)
        # Not reentrant on purpose: a writer thread releases it once the state of a change is written.
        self._thread_lock = threading.Lock()
        self._deferred: tuple | None = None
        # What HAProxy serves, as this process last knew it (None: unknown, e.g. it ran before this process).
        self._backends: dict[str, Backend] | None = None
        self._by_key: dict[str, str] = {}
        self._maps: dict[str, dict[str, str]] = {}
        self._challenges: dict[str, str] = {}
        self._serial = ""
        self._master_pid: int | None = None
        self.last_persist_ms = 0.0  # how long the last write of the state took (bench/router.py reports it)
        self._normalized: dict[str, tuple[Route, Route]] = {}  # key -> the route last given, and as applied
        self._applied: dict[str, Route] = {}  # key -> the route its backend serves
        self._blocks: dict[str, str] = {}  # backend -> its section of haproxy.cfg
        self._rows: dict[str, str] = {}  # backend -> its entry in state.json
        self._slots = SLOTS_MIN
        self._order: list[str] = []  # the backends in config order
        self._prepared = False  # the files HAProxy reads besides the config exist
        self._writes: tuple | None = None  # (pid, queue) of the thread writing the state after a change

    # --- applying routes ----------------------------------------------------------------------------------------
    def apply(
        self, routes: Iterable[Route], *, only: Iterable[str] | None = None, drain_timeout: float = 10.0
    ) -> Applied:
        """Serve `routes`, and return once no request can reach a server they no longer name.

        With `only` (route keys), `routes` are the current routes of those keys alone (a key without a route is no
        longer served) and every other key keeps what it has: a switch then costs what changed, not the route count.
        When this process does not know what HAProxy serves (it does not run, or its state is unreadable), such a
        partial apply changes nothing and says `needs_all`: apply every route then.

        Starts HAProxy when it does not run; reloads it (seamlessly) only when it ran before this process knew its
        state, when new apps outnumber the spare backends, or when a connect timeout changed.
        """
        scope = None if only is None else set(only)
        desired = {}
        normalized = {} if scope is None else self._normalized
        for key in scope or ():
            normalized.pop(key, None)
        for route in routes:
            if scope is not None and route.key not in scope:
                continue
            seen = self._normalized.get(route.key)
            if seen is not None and (seen[0] is route or seen[0] == route):
                clean = seen[1]
            else:
                names = config.valid_hostnames(route.hostnames)
                upstreams = tuple(a for a in route.upstreams if config.ADDRESS.match(a))
                clean = dataclasses.replace(route, hostnames=tuple(sorted(set(names))), upstreams=upstreams)
            normalized[route.key] = (route, clean)
            if clean.hostnames:
                desired[route.key] = clean
        self._normalized = normalized
        with self._locked():
            if scope is not None:
                if self._master_pid is None or self._backends is None:
                    self._normalized = {}
                    return Applied(needs_all=True)
                gone = [key for key in scope if key not in desired and key in self._by_key]
                changed = {key: route for key, route in desired.items() if self._applied.get(key) is not route}
                if self._needs_reload(changed):
                    return self._reload_to(self._served_with(desired, gone), drain_timeout=drain_timeout)
                return self._apply_runtime(desired, gone=gone, drain_timeout=drain_timeout)
            if self._master_pid is None:
                self._rebuild(desired)
                self._start()
                self._persist()
                return Applied(added=sum(len(r.upstreams) for r in desired.values()), started=True)
            if self._backends is None or self._needs_reload(
                {key: route for key, route in desired.items() if self._applied.get(key) is not route}
            ):
                return self._reload_to(desired, drain_timeout=drain_timeout)
            return self._apply_runtime(desired, drain_timeout=drain_timeout)

    def _reload_to(self, desired: dict[str, Route], *, drain_timeout: float) -> Applied:
        replaced = self._rebuild(desired, reload=True)
        undrained = () if self.wait_exited(replaced, timeout=drain_timeout) else ("old workers",)
        return Applied(reloaded=True, replaced=replaced, undrained=undrained)

    def _served_with(self, desired: dict[str, Route], gone: list[str]) -> dict[str, Route]:
        """Every route HAProxy serves, with `desired` changed and `gone` removed (for a partial apply that reloads)."""
        served = {}
        for backend in self._backends.values():
            if backend.key and backend.key not in gone:
                served[backend.key] = self._applied.get(backend.key) or Route(
                    key=backend.key,
                    hostnames=tuple(sorted(backend.hostnames)),
                    upstreams=tuple(backend.servers.values()),
                    settings=backend.settings,
                )
        served.update(desired)
        return served

    def _needs_reload(self, desired: dict[str, Route]) -> bool:
        """Whether the routes that changed (`desired`) need what only a new config gives: backends, slots, timeouts."""
        new = [key for key in desired if key not in self._by_key]
        if len(new) > len(self._backends) - len(self._by_key):  # the spares: backends no app holds
            return True
        allowing = [key for key, route in desired.items() if route.settings.allow]
        if allowing:
            held = {backend.key for backend in self._backends.values() if backend.slot}
            wanted = sum(1 for key in allowing if key not in held)
            if wanted > self._slots - len(held):
                return True
        for key, route in desired.items():
            name = self._by_key.get(key)
            if name and self._backends[name].settings.connect_timeout_s != route.settings.connect_timeout_s:
                return True
        return False

    def _rebuild(self, desired: dict[str, Route], *, reload: bool = False) -> frozenset[int]:
        """Write a config serving exactly `desired` (keeping each app's backend, adding spares) and reload to it."""
        previous = self._backends or {}
        by_key = {b.key: name for name, b in previous.items() if b.key}
        used = set()
        backends: dict[str, Backend] = {}
        for key, route in desired.items():
            name = by_key.get(key)
            if name:
                backends[name] = _backend_for(name, route)
                used.add(name)
        numbers = [int(name[1:]) for name in previous] or [0]
        free = sorted((n for n in previous if n not in used), key=lambda n: int(n[1:]))
        next_number = max(numbers) + 1
        for key, route in desired.items():
            if key in by_key:
                continue
            if free:
                name = free.pop(0)
            else:
                name, next_number = f"b{next_number}", next_number + 1
            backends[name] = _backend_for(name, route)
        for name in free:
            backends[name] = Backend(name=name)
        spares = sum(1 for b in backends.values() if not b.key)
        for _ in range(max(self.spares_min, len(desired) // 10) - spares):
            name, next_number = f"b{next_number}", next_number + 1
            backends[name] = Backend(name=name)
        previous_slots = {b.key: b.slot for b in previous.values() if b.key and b.slot}
        allowing = [b for b in backends.values() if b.key and b.settings.allow]
        self._slots = max(SLOTS_MIN, 2 * len(allowing))
        taken = {
            previous_slots[b.key]
            for b in allowing
            if previous_slots.get(b.key, 0) <= self._slots and b.key in previous_slots
        }
        free_slots = iter(slot for slot in range(1, self._slots + 1) if slot not in taken)
        for backend in allowing:
            kept = previous_slots.get(backend.key)
            backend.slot = kept if kept in taken else next(free_slots)
        self._set_backends(backends)
        self._applied = dict(desired)  # each app's backend serves its route
        self._write_acls()
        replaced: frozenset[int] = frozenset()
        if reload:
            for name, text in config.render_maps(backends.values(), self._challenges).items():
                write_atomic(self.layout.map_path(name), text)
            candidate = self.prefix / "haproxy.cfg.new"
            candidate.write_text(config.render(self.layout, backends.values(), self._slots))
            self._check(candidate)
            candidate.replace(self.conf_path)
            replaced = self._reload()
            self._persist()
        else:
            self._persist()  # HAProxy checks it as it starts
        return replaced

    # --- reading back -------------------------------------------------------------------------------------------
    def backend_of(self, key: str) -> str | None:
        with self._locked():
            return self._by_key.get(key)

    def show(self, command: str) -> str:
        """Run a read-only runtime command (`show ...`) and return its output."""
        if not command.startswith("show "):
            raise RouterError("Only `show` commands may be run through `show`.")
        return self.admin.send(command)
