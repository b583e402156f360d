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

import contextlib
import dataclasses
import datetime
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deployments.router import config
from deployments.router.config import Backend, Layout, Route, RouteSettings
from deployments.router.runtime import Cli, CliError

logger = logging.getLogger(__name__)

SPARES_MIN = 32
SLOTS_MIN = 32  # allowlist slots in the config; more when more apps have an allowlist
DRAIN_POLL = 0.003
CERT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
KEY_AUTHORIZATION = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")
CIDR = re.compile(r"^[0-9a-fA-F.:]+(/[0-9]{1,3})?$")


class RouterError(Exception):
    """HAProxy refused a config or a command, or did not start/reload; the message says why."""


@dataclass(frozen=True)
class Applied:
    """What `HAProxy.apply` did: servers added and drained, whether it (re)started HAProxy, the workers it replaced."""

    added: int = 0
    drained: int = 0
    started: bool = False
    reloaded: bool = False
    replaced: frozenset[int] = field(default_factory=frozenset)
    undrained: tuple[str, ...] = ()


def _settings_from(data: dict) -> RouteSettings:
    return RouteSettings(**{**data, "allow": tuple(data.get("allow", ()))})


class HAProxy:
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

    # --- process ------------------------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The master's pid while it runs."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        fields = _stat(pid)
        if not fields or fields[0] == "Z":
            return None
        try:
            if b"haproxy" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return None
        except OSError:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def workers(self) -> set[int]:
        """The current worker pids (not the old ones a reload replaced), from the master's `show proc`."""
        return self._procs()[0]

    def old_workers(self) -> set[int]:
        return self._procs()[1]

    def _procs(self) -> tuple[set[int], set[int]]:
        try:
            text = self.master.send("show proc")
        except CliError:
            return set(), set()
        current, old, section = set(), set(), ""
        for line in text.splitlines():
            if line.startswith("#"):
                section = line
                continue
            parts = line.split()
            if len(parts) < 2 or parts[1] != "worker":
                continue
            (old if "old" in section else current).add(int(parts[0]))
        return current, old

    def ports_check(self) -> None:
        """Raise RouterError naming a router port another process holds (this router's own HAProxy may hold them)."""
        if self.running():
            return
        for port in (self.port, self.tls_port):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.bind, port))
                except OSError as error:
                    raise RouterError(
                        f"The router's port {self.bind}:{port} is in use by another process ({error.strerror}). "
                        "Another Berth, perhaps with another BERTH_DATA_DIR, may be running its router there: "
                        "stop it (`make stop` in its checkout) or set BERTH_ROUTER_PORT / BERTH_ROUTER_TLS_PORT."
                    ) from None

    def _start(self) -> None:
        self.ports_check()
        result = subprocess.run(
            [self.binary, "-W", "-D", "-f", str(self.conf_path), "-p", str(self.pid_path), "-S",
             str(self.layout.master_socket)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RouterError(f"haproxy did not start: {_alerts(result.stderr or result.stdout)}")
        self._wait_worker(set(), timeout=30)

    def _wait_worker(self, before: set[int], *, timeout: float) -> set[int]:
        """Wait until a worker not in `before` serves the admin socket; return the new workers."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.workers()
            if current and not current & before:
                self.admin.close()
                try:
                    self.admin.send("show info")
                    return current
                except CliError:
                    pass
            if time.monotonic() > deadline:
                raise RouterError(f"haproxy did not start a worker within {timeout:.0f} s (see {self.conf_path})")
            time.sleep(0.01)

    def _reload(self) -> frozenset[int]:
        """Have the master start a worker on the current config (it takes over the sockets); return the old workers."""
        before = self.workers()
        with contextlib.suppress(CliError):  # the master re-executes itself and closes the connection
            self.master.send("reload")
        self.master.close()
        self._wait_worker(before, timeout=60)
        return frozenset(before)

    def wait_written(self) -> None:
        """Return once the state of the last change is written (it is written after the change returns)."""
        with self._thread_lock:
            pass

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop HAProxy: workers finish their requests (SIGUSR1), then a hard stop when they linger."""
        pid = self.pid()
        self.admin.close()
        self.master.close()
        with self._thread_lock:
            self._backends = None
        if pid is None:
            return
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGTERM)

    @staticmethod
    def wait_exited(pids: Iterable[int], *, timeout: float) -> bool:
        """Wait until every process in `pids` has exited; False when `timeout` ran out."""
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # --- locking and state --------------------------------------------------------------------------------------
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
        threading.Thread(target=self._write_then_unlock, args=(changed, maps, lock), daemon=True).start()

    def _write_then_unlock(self, changed, maps, lock) -> None:
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
        for sub in ("maps", "acl", "certs"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        if not self.layout.crt_list.exists():
            self.layout.crt_list.write_text("")
        if not self.layout.lua_path.exists() or self.layout.lua_path.read_text() != config.LUA:
            _write_atomic(self.layout.lua_path, config.LUA)
        if not self.layout.default_cert.exists():
            _write_private(self.layout.default_cert, self_signed_pem())

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
            _write_atomic(self.layout.map_path(name), "".join(f"{k} {v}\n" for k, v in sorted(entries.items())))
        _write_atomic(
            self.conf_path, config.render_head(self.layout, self._slots) + "".join(map(self._blocks.__getitem__, order))
        )
        self._serial = secrets.token_hex(8)
        master = self.pid()
        head = json.dumps(
            {"master": master, "serial": self._serial, "slots": self._slots, "challenges": self._challenges}
        )
        _write_atomic(
            self.state_path, head[:-1] + ', "backends": [' + ", ".join(map(self._rows.__getitem__, order)) + "]}"
        )
        _write_atomic(self.serial_path, f"{master} {self._serial}\n")
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
                _write_atomic(path, text)

    # --- applying routes ----------------------------------------------------------------------------------------
    def apply(self, routes: Iterable[Route], *, drain_timeout: float = 10.0) -> Applied:
        """Serve `routes`, and return once no request can reach a server they no longer name.

        Starts HAProxy when it does not run; reloads it (seamlessly) only when it ran before this process knew its
        state, when new apps outnumber the spare backends, or when a connect timeout changed.
        """
        desired = {}
        normalized = {}
        for route in routes:
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
            if self._master_pid is None:
                self._rebuild(desired)
                self._start()
                self._persist()
                return Applied(added=sum(len(r.upstreams) for r in desired.values()), started=True)
            if self._backends is None or self._needs_reload(
                {key: route for key, route in desired.items() if self._applied.get(key) is not route}
            ):
                replaced = self._rebuild(desired, reload=True)
                undrained = () if self.wait_exited(replaced, timeout=drain_timeout) else ("old workers",)
                return Applied(reloaded=True, replaced=replaced, undrained=undrained)
            return self._apply_runtime(desired, drain_timeout=drain_timeout)

    def _needs_reload(self, desired: dict[str, Route]) -> bool:
        """Whether the routes that changed (`desired`) need what only a new config gives: backends, slots, timeouts."""
        new = [key for key in desired if key not in self._by_key]
        spares = sum(1 for backend in self._backends.values() if not backend.key)
        if len(new) > spares:
            return True
        held = {backend.key for backend in self._backends.values() if backend.slot}
        wanted = sum(1 for key, route in desired.items() if route.settings.allow and key not in held)
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
        self._write_acls()
        replaced: frozenset[int] = frozenset()
        if reload:
            for name, text in config.render_maps(backends.values(), self._challenges).items():
                _write_atomic(self.layout.map_path(name), text)
            candidate = self.prefix / "haproxy.cfg.new"
            candidate.write_text(config.render(self.layout, backends.values(), self._slots))
            self._check(candidate)
            candidate.replace(self.conf_path)
            replaced = self._reload()
            self._persist()
        else:
            self._persist()  # HAProxy checks it as it starts
        return replaced

    def _check(self, path: Path) -> None:
        result = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(path)], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            if path != self.conf_path:
                path.unlink(missing_ok=True)
            raise RouterError(f"haproxy -c refused the config: {_alerts(result.stderr or result.stdout)}")

    def _cmd(self, command: str, *, expect: str = "", payload: str | None = None) -> str:
        """Run a runtime command; HAProxy's answer must contain `expect` (or be empty when `expect` is empty)."""
        try:
            out = self.admin.send(command, payload).strip()
        except CliError as error:
            raise RouterError(str(error)) from error
        if (expect and expect not in out) or (not expect and out):
            raise RouterError(f"haproxy refused `{command}`: {out}")
        return out

    def _apply_runtime(self, desired: dict[str, Route], *, drain_timeout: float) -> Applied:
        backends = self._backends
        changed: list[tuple[Backend, Backend]] = []  # (before, after)
        spares: list[str] | None = None
        for key, route in desired.items():
            if self._applied.get(key) is route:
                continue
            name = self._by_key.get(key)
            if name is None:
                if spares is None:
                    spares = sorted((n for n, b in backends.items() if not b.key), key=lambda n: int(n[1:]))
                before = Backend(name=spares.pop(0))
            else:
                before = backends[name]
            after = _backend_for(before.name, route, slot=before.slot if route.settings.allow else 0)
            if (before.key, before.hostnames, before.servers, before.settings) != (
                after.key,
                after.hostnames,
                after.servers,
                after.settings,
            ):
                changed.append((before, after))
            else:
                self._applied[key] = route
        if len(self._by_key) > len(desired) - sum(1 for key in desired if key not in self._by_key):
            for key, name in self._by_key.items():
                if key not in desired:
                    changed.append((backends[name], Backend(name=name)))
        if not changed:
            return Applied()

        added = 0
        for before, after in changed:  # new servers first: the old ones serve until these do
            for server, address in after.servers.items():
                if server not in before.servers:
                    self._cmd(f"add server {after.name}/{server} {address}", expect="New server registered.")
                    self._cmd(f"enable server {after.name}/{server}")
                    added += 1
        held = {b.slot for b in backends.values() if b.slot} - {b.slot for b, a in changed if b.slot and not a.slot}
        free_slots = iter(slot for slot in range(1, self._slots + 1) if slot not in held)
        for before, after in changed:  # the allowlist's addresses before the map entry that points at them
            if after.settings.allow and not after.slot:
                after.slot = next(free_slots)
            if after.slot and (after.settings.allow != before.settings.allow or after.slot != before.slot):
                self._set_acl(after.slot, after.settings.allow)
        touched = self._maps_update(changed)
        for before, after in changed:
            if before.slot and not after.slot:
                self._set_acl(before.slot, ())
        pending = []
        for before, after in changed:
            for server in before.servers:
                if server not in after.servers:
                    self._cmd(f"set server {before.name}/{server} state maint")
                    pending.append(f"{before.name}/{server}")
        for before, after in changed:
            backends[after.name] = after
            if before.key and self._by_key.get(before.key) == before.name:
                del self._by_key[before.key]
                self._applied.pop(before.key, None)
            if after.key:
                self._by_key[after.key] = after.name
                self._applied[after.key] = desired[after.key]
        undrained = self._drain(pending, timeout=drain_timeout)
        if any(before.slot or after.slot for before, after in changed):
            self._write_acls()
        self._deferred = ([after.name for _before, after in changed], touched)
        return Applied(added=added, drained=len(pending), undrained=tuple(undrained))

    def _maps_update(self, changed: list[tuple[Backend, Backend]]) -> set[str]:
        """Put each changed backend's new map entries, then delete the entries nothing claims any more."""
        removes: list[tuple[str, str, str]] = []
        touched: set[str] = set()
        for before, after in changed:
            old, new = config.map_entries(before), config.map_entries(after)
            for name, entries in new.items():
                current = self._maps[name]
                for key, value in entries.items():
                    if current.get(key) == value:
                        continue
                    verb = "set" if key in current else "add"
                    self._cmd(f"{verb} map {self.layout.map_path(name)} {key} {value}")
                    current[key] = value
                    touched.add(name)
            for name, entries in old.items():
                for key, value in entries.items():
                    if key not in new.get(name, {}):
                        removes.append((name, key, value))
        for name, key, value in removes:
            if self._maps[name].get(key) == value:  # not taken over by another backend in this change
                self._cmd(f"del map {self.layout.map_path(name)} {key}")
                del self._maps[name][key]
                touched.add(name)
        return touched

    def _set_acl(self, slot: int, cidrs: Iterable[str]) -> None:
        path = self.layout.acl_path(slot)
        self._cmd(f"clear acl {path}")
        for cidr in cidrs:
            if CIDR.match(cidr):
                self._cmd(f"add acl {path} {cidr}")

    def _drain(self, servers: list[str], *, timeout: float) -> list[str]:
        """Delete each server once HAProxy accepts it (it refuses while connections remain); return those cut off."""
        deadline = time.monotonic() + timeout
        pending = list(servers)
        while pending:
            left = []
            for server in pending:
                out = self.admin.send(f"del server {server}").strip()
                if out not in ("Server deleted.", "No such server."):
                    left.append(server)
            pending = left
            if not pending:
                break
            if time.monotonic() > deadline:
                logger.warning("servers still busy after %.0f s, cutting them off: %s", timeout, ", ".join(pending))
                for server in pending:
                    self.admin.send(f"shutdown sessions server {server}")
                    self.admin.send(f"del server {server}")
                return pending
            time.sleep(DRAIN_POLL)
        return []

    # --- TLS and ACME, for the certificates service ---------------------------------------------------------------
    def cert_put(self, name: str, pem_bundle: str) -> None:
        """Serve `pem_bundle` (certificate chain and private key, PEM) for the names it covers, by SNI."""
        path = self._cert_path(name)
        with self._locked():
            known = self._crt_list_entries()
            _write_private(path, pem_bundle)
            if self._master_pid is not None:
                if str(path) not in known:
                    self._cmd(f"new ssl cert {path}", expect="New empty certificate store")
                self._cmd(f"set ssl cert {path}", payload=pem_bundle, expect="Transaction created")
                self._cmd(f"commit ssl cert {path}", expect="Success!")
                if str(path) not in known:
                    self._cmd(f"add ssl crt-list {self.layout.crt_list} {path}", expect="Success!")
            if str(path) not in known:
                _write_atomic(self.layout.crt_list, "".join(f"{entry}\n" for entry in [*known, str(path)]))

    def cert_remove(self, name: str) -> None:
        """Stop serving certificate `name` (SNI for its names falls back to the default certificate)."""
        path = self._cert_path(name)
        with self._locked():
            known = self._crt_list_entries()
            if str(path) not in known:
                return
            _write_atomic(self.layout.crt_list, "".join(f"{entry}\n" for entry in known if entry != str(path)))
            if self._master_pid is not None:
                self._cmd(f"del ssl crt-list {self.layout.crt_list} {path}", expect="deleted in crtlist")
                self._cmd(f"del ssl cert {path}", expect="deleted!")
            path.unlink(missing_ok=True)

    def certs(self) -> list[str]:
        """The names of the certificates served besides the default one."""
        return [Path(entry).stem for entry in self._crt_list_entries()]

    def _cert_path(self, name: str) -> Path:
        if not CERT_NAME.match(name):
            raise RouterError(f"{name!r} cannot name a certificate file.")
        return self.layout.certs_dir / f"{name}.pem"

    def _crt_list_entries(self) -> list[str]:
        try:
            return [line.strip() for line in self.layout.crt_list.read_text().splitlines() if line.strip()]
        except OSError:
            return []

    def challenge_set(self, token: str, key_authorization: str) -> None:
        """Answer `key_authorization` at /.well-known/acme-challenge/<token> on every hostname (ACME HTTP-01)."""
        if not TOKEN.match(token) or not KEY_AUTHORIZATION.match(key_authorization):
            raise RouterError("An ACME token and key authorization are base64url text.")
        self._challenge(token, key_authorization)

    def challenge_clear(self, token: str) -> None:
        if TOKEN.match(token):
            self._challenge(token, None)

    def _challenge(self, token: str, value: str | None) -> None:
        with self._locked():
            current = self._challenges.get(token)
            if current == value:
                return
            path = self.layout.map_path("challenges")
            if self._master_pid is not None and self._backends is not None:
                if value is None:
                    self._cmd(f"del map {path} {token}")
                else:
                    self._cmd(f"{'set' if current is not None else 'add'} map {path} {token} {value}")
            if value is None:
                self._challenges.pop(token, None)
            else:
                self._challenges[token] = value
            if self._backends is not None:
                self._maps["challenges"] = dict(self._challenges)
                self._persist([], maps=["challenges"])
            else:
                _write_atomic(path, "".join(f"{k} {v}\n" for k, v in sorted(self._challenges.items())))

    # --- reading back -------------------------------------------------------------------------------------------
    def backend_of(self, key: str) -> str | None:
        with self._locked():
            return self._by_key.get(key)

    def show(self, command: str) -> str:
        """Run a read-only runtime command (`show ...`) and return its output."""
        if not command.startswith("show "):
            raise RouterError("Only `show` commands may be run through `show`.")
        return self.admin.send(command)


def _backend_for(name: str, route: Route, *, slot: int = 0) -> Backend:
    return Backend(
        name=name,
        key=route.key,
        hostnames=set(route.hostnames),
        servers={config.server_name(address): address for address in route.upstreams},
        settings=route.settings,
        slot=slot,
    )


def _alerts(text: str) -> str:
    lines = [line for line in text.splitlines() if "ALERT" in line] or text.strip().splitlines()[-3:]
    return " ".join(line.strip() for line in lines)


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def self_signed_pem(hostname: str = "berth-router.invalid", *, days: int = 3650) -> str:
    """A self-signed certificate and key for `hostname` (the default one answers names no certificate covers)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM).decode()
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )
