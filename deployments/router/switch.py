"""A switch at runtime: the difference between the routes and what HAProxy serves, applied through the admin socket.

New servers are added and enabled before the old ones go to maintenance; hostnames and settings are map entries; an old
server is gone once HAProxy accepts `del server` (it refuses while the server still holds a connection: the drain).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from deployments.router import config
from deployments.router.config import Backend, Route
from deployments.router.runtime import CliError, RouterError
from deployments.router.state import CIDR

logger = logging.getLogger(__name__)

DRAIN_POLL = 0.003


@dataclass(frozen=True)
class Applied:
    """What `HAProxy.apply` did: servers added and drained, whether it (re)started HAProxy, the workers it replaced."""

    added: int = 0
    drained: int = 0
    started: bool = False
    reloaded: bool = False
    replaced: frozenset[int] = field(default_factory=frozenset)
    undrained: tuple[str, ...] = ()
    needs_all: bool = False  # a partial apply changed nothing: this process does not know what HAProxy serves


class SwitchMixin:
    """Runtime changes of servers, maps and allowlists (mixed into HAProxy, whose state and admin socket it uses)."""

    def _cmd(self, command: str, *, expect: str = "", payload: str | None = None) -> str:
        """Run a runtime command; HAProxy's answer must contain `expect` (or be empty when `expect` is empty)."""
        try:
            out = self.admin.send(command, payload).strip()
        except CliError as error:
            raise RouterError(str(error)) from error
        if (expect and expect not in out) or (not expect and out):
            raise RouterError(f"haproxy refused `{command}`: {out}")
        return out

    def _apply_runtime(
        self, desired: dict[str, Route], *, gone: list[str] | None = None, drain_timeout: float
    ) -> Applied:
        """Serve `desired` at runtime; the apps in `gone` (None: every app not in `desired`) are served no more."""
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
        if gone is None and len(self._by_key) > len(desired) - sum(1 for key in desired if key not in self._by_key):
            gone = [key for key in self._by_key if key not in desired]
        for key in gone or ():
            name = self._by_key[key]
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
        free_slots = None
        for before, after in changed:  # the allowlist's addresses before the map entry that points at them
            if after.settings.allow and not after.slot:
                if free_slots is None:
                    held = {b.slot for b in backends.values() if b.slot}
                    held -= {b.slot for b, a in changed if b.slot and not a.slot}
                    free_slots = iter(slot for slot in range(1, self._slots + 1) if slot not in held)
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


def _backend_for(name: str, route: Route, *, slot: int = 0) -> Backend:
    return Backend(
        name=name,
        key=route.key,
        hostnames=set(route.hostnames),
        servers={config.server_name(address): address for address in route.upstreams},
        settings=route.settings,
        slot=slot,
    )
