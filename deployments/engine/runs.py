"""One-off containers of a release (`berth run`): started hardened like every container, waited for, kept exited.

The exited container stays until garbage collection (exited containers older than the grace period), so the log
collector can read its output to the end even when it finished before the collector attached.
"""

from __future__ import annotations

import time

from deployments.engine import secret_files
from deployments.engine.client import EngineSpec, client_for, translated
from deployments.engine.containers import RunSpec, _create

OUTPUT_BYTES = 64 * 1024
TIMED_OUT = 124  # what timeout(1) answers


def run_start(engine: EngineSpec, spec: RunSpec, *, tty: bool = False) -> str:
    """Create and start the one-off container; return its engine id.

    With `tty` it gets a terminal and an open stdin and is only created: attaching to it starts it
    (engine/terminals.py), so the first thing it prints reaches its user.
    """
    with translated(engine.name, f"Run {spec.name}"):
        client = client_for(engine)
        extra = {"tty": True, "stdin_open": True} if tty else {}
        container = _create(client, engine, spec, restart=False, **extra)
        if not tty:
            container.start()
        return container.id


def run_wait(engine: EngineSpec, *, engine_id: str, timeout: int) -> tuple[int, str]:
    """Wait for the container to exit (killing it after `timeout` s); return (exit code, the end of its output)."""
    with translated(engine.name, f"Run {engine_id[:12]}"):
        container = client_for(engine).containers.get(engine_id)
        deadline = time.monotonic() + timeout
        code = None
        while code is None:
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs["State"].get("ExitCode", 1)
            elif time.monotonic() > deadline:
                container.kill()
                code = TIMED_OUT
            else:
                time.sleep(0.2)
        output = container.logs(stdout=True, stderr=True)[-OUTPUT_BYTES:]
        # The exited container stays for its logs; its secret files leave the host's memory now.
        secret_files.release(client_for(engine).api, container_id=engine_id)
        return code, output.decode("utf-8", "replace")
