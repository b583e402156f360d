"""A task worker (`manage.py db_worker`) that SIGKILLs itself at one point of a rollout, named by its first argument.

The fault tests run it as a process of its own, so what it leaves is exactly what `kill -9` at that point leaves:
committed rows, the engines' containers, an open transaction rolled back by the server, and its session's locks gone.

    python killed_worker.py POINT     POINT: plan, started, health, switch, switched, drain (or none, slow)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from deployments.engine import containers as docker_ops  # noqa: E402
from deployments.services import routes  # noqa: E402
from deployments.services.rollouts import steps  # noqa: E402


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill(module, name: str, *, after: bool = False) -> None:
    """Die at the first call of `module.name` (before it runs, or once it returned with `after`)."""
    original = getattr(module, name)
    lock = threading.Lock()

    def wrapped(*args, **kwargs):
        if not after:
            with lock:
                _die()
        result = original(*args, **kwargs)
        with lock:
            _die()
        return result

    setattr(module, name, wrapped)


def _slow(module, name: str, seconds: float) -> None:
    """Make every call of `module.name` take `seconds` longer (a health check that takes its time)."""
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    setattr(module, name, wrapped)


POINTS = {
    # a worker that runs to the end
    "none": lambda: None,
    # one that does not die, but whose health checks poll slowly (so a test can cut its database mid-way)
    "slow": lambda: _slow(docker_ops, "container_state", 0.5),
    # the plan is saved; the first host is about to get the image
    "plan": lambda: _kill(docker_ops, "image_ensure"),
    # the engine created a new container; the worker has not recorded its id
    "started": lambda: _kill(docker_ops, "container_start", after=True),
    # a new container runs and is being health-checked
    "health": lambda: _kill(docker_ops, "container_state"),
    # the routed flags are committed; the routers were not told
    "switch": lambda: _kill(routes, "routes_switch"),
    # the routers serve the new containers; the old ones were not stopped
    "switched": lambda: _kill(steps, "old_drain"),
    # the first old container is being stopped
    "drain": lambda: _kill(docker_ops, "container_stop"),
}

if __name__ == "__main__":
    POINTS[sys.argv[1]]()
    call_command("db_worker", "--queue-name", "default", "--interval", "0.2", "--no-startup-delay", verbosity=0)
