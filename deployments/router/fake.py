"""An in-memory router with nginx's interface (`apply`, `wait_exited`), selected by `BERTH_ROUTER=fake`.

It remembers the routes it serves and each generation it applied. `fail` makes `apply` refuse the next calls (as
nginx refusing a config would), and `drain_exits=False` makes the replaced workers outlive the drain wait, so a test
can simulate a router switch that fails, or workers that hold old requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from deployments.router.nginx import Applied, Route, RouterError


@dataclass
class FakeRouter:
    generation: int = 0
    served: dict[str, Route] = field(default_factory=dict)
    applied: list[dict[str, Route]] = field(default_factory=list)
    # How many of the next `apply` calls fail, and with what message.
    fail: int = 0
    fail_message: str = "nginx: [emerg] the fake router refused the config"
    drain_exits: bool = True
    drains: list[frozenset[int]] = field(default_factory=list)
    hook: Callable[[str], None] | None = None

    def __post_init__(self):
        self._lock = threading.Lock()

    def apply(self, routes: Iterable[Route], *, wait: float = 10.0) -> Applied:
        if self.hook is not None:
            self.hook("apply")
        with self._lock:
            if self.fail:
                self.fail -= 1
                raise RouterError(self.fail_message)
            self.generation += 1
            self.served = {route.key: route for route in routes}
            self.applied.append(dict(self.served))
            # The workers of the previous generation, named by its number.
            return Applied(generation=self.generation, replaced=frozenset({self.generation - 1}))

    def wait_exited(self, pids: frozenset[int], *, timeout: float) -> bool:
        if self.hook is not None:
            self.hook("wait_exited")
        with self._lock:
            self.drains.append(pids)
            return self.drain_exits

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
