"""An in-memory router with the HAProxy driver's interface (`apply`), selected by `BERTH_ROUTER=fake`.

It remembers the routes it serves and each generation it applied. `apply` serves the routes, then drains the servers
they dropped (the hook sees "apply", then "wait_exited" for that drain). `fail` makes `apply` refuse the next calls
(as HAProxy refusing a command would), and `drain_exits=False` makes the old servers outlive the drain wait, so a test
can simulate a router switch that fails, or servers that hold old requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from deployments.router.config import Route
from deployments.router.haproxy import Applied, RouterError


@dataclass(eq=False)  # one router is one object: tls_sync remembers what each one holds, by identity
class FakeRouter:
    generation: int = 0
    served: dict[str, Route] = field(default_factory=dict)
    applied: list[dict[str, Route]] = field(default_factory=list)
    # How many of the next `apply` calls fail, and with what message.
    fail: int = 0
    fail_message: str = "haproxy refused `add server`: the fake router refused it"
    drain_exits: bool = True
    drains: list[frozenset[int]] = field(default_factory=list)
    scopes: list[frozenset[str] | None] = field(default_factory=list)  # each apply's `only` (None: every route)
    hook: Callable[[str], None] | None = None

    def __post_init__(self):
        self._lock = threading.Lock()

    def apply(
        self, routes: Iterable[Route], *, only: Iterable[str] | None = None, drain_timeout: float = 10.0
    ) -> Applied:
        if self.hook is not None:
            self.hook("apply")
        with self._lock:
            if self.fail:
                self.fail -= 1
                raise RouterError(self.fail_message)
            self.generation += 1
            self.scopes.append(None if only is None else frozenset(only))
            before = {address for route in self.served.values() for address in route.upstreams}
            if only is None:
                self.served = {route.key: route for route in routes}
            else:  # the routes of the keys in `only`; the others keep theirs
                scope = set(only)
                served = {key: route for key, route in self.served.items() if key not in scope}
                served.update((route.key, route) for route in routes if route.key in scope)
                self.served = served
            self.applied.append(dict(self.served))
            dropped = frozenset(before - {address for route in self.served.values() for address in route.upstreams})
        if self.hook is not None:
            self.hook("wait_exited")  # the drain: the old servers let go
        with self._lock:
            self.drains.append(frozenset({self.generation - 1}))
            undrained = () if self.drain_exits else tuple(sorted(dropped)) or ("old servers",)
            return Applied(drained=len(dropped), undrained=undrained)

    def upstreams(self) -> set[str]:
        """Every host:port the router sends traffic to now."""
        with self._lock:
            return {address for route in self.served.values() for address in route.upstreams}


_installed: FakeRouter | None = None
_installed_lock = threading.Lock()


def installed() -> FakeRouter:
    """The process's fake router (made at first use); tests put a fresh one in with `install`."""
    global _installed
    with _installed_lock:
        if _installed is None:
            _installed = FakeRouter()
        return _installed


def install(router: FakeRouter | None) -> FakeRouter | None:
    global _installed
    with _installed_lock:
        previous, _installed = _installed, router
        return previous
