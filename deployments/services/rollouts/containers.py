"""Engine work on one container at a time, run in pool threads: start and health-check, stop, remove.

Nothing here touches a database row or an object shared between threads: each call returns what it found (or raises)
and the coordinating thread records it. That keeps a pool thread's view of the world out of the plan.
"""

from __future__ import annotations

import contextlib
import http.client
import shlex
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError, EngineSpec
from deployments.engine.labels import DEPLOYMENT_LABEL
from deployments.models import Container, DockerHost, HealthcheckKind
from deployments.services.hosts import host_spec
from deployments.services.rollouts.errors import StartError
from deployments.services.rollouts.plan import CONTAINER_PORT, Planned

STOP_GRACE = 10
MAX_PARALLEL = 16


def pool(size: int) -> ThreadPoolExecutor:
    # Named after the thread that opens it, so a stack dump (or a test) tells whose engine calls these are.
    return ThreadPoolExecutor(
        max_workers=max(1, min(size, MAX_PARALLEL)),
        thread_name_prefix=f"{threading.current_thread().name}/berth-engine",
    )


def _http_ok(address: str, port: int, path: str) -> tuple[bool, str]:
    connection = http.client.HTTPConnection(address, port, timeout=2)
    try:
        connection.request("GET", path or "/", headers={"Host": "localhost", "User-Agent": "berth-healthcheck"})
        response = connection.getresponse()
        response.read()
        return 200 <= response.status < 400, f"answered HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, str(exc) or exc.__class__.__name__
    finally:
        connection.close()


def start_and_check(
    *,
    planned: Planned,
    engine: EngineSpec,
    spec: docker_ops.RunSpec,
    cancelled: Callable[[], bool],
    on_started: Callable[[Planned, docker_ops.Started], None] | None = None,
) -> docker_ops.Started:
    """Start one container and wait until it passes its health check; return where it runs.

    `on_started` hears of the container as soon as the engine created it, before the health check, so that its id
    can be recorded while the check runs; it must only hand the result over (a queue), not record it itself.
    """
    label = f"{planned.process_type}.{planned.index} on {planned.host.name}"
    try:
        started = docker_ops.container_start(engine, spec)
    except EngineError as exc:
        raise StartError(f"{label} did not start: {exc.message}") from exc
    if on_started is not None:
        on_started(planned, started)
    values = planned.settings
    deadline = time.monotonic() + values["healthcheck_timeout"]
    kind = values["healthcheck_kind"]
    last = "no answer yet"
    stable_since = time.monotonic()
    while True:
        if cancelled():
            raise StartError(f"{label}: cancelled")
        state = docker_ops.container_state(engine, engine_id=started.engine_id)
        if state["status"] in ("exited", "dead") or state["restart_count"]:
            output = docker_ops.container_logs_tail(engine, engine_id=started.engine_id)
            why = "was killed for using more memory than its limit" if state["oom_killed"] else "exited"
            raise StartError(
                f"{label} {why} (exit code {state['exit_code']}) during start. Last output: {output or '(none)'}"
            )
        if state["status"] == "running":
            if kind == HealthcheckKind.HTTP and started.host_port:
                ok, last = _http_ok(started.ip or planned.host.address, started.host_port, values["healthcheck"])
            elif kind == HealthcheckKind.COMMAND and values["healthcheck"]:
                code = docker_ops.container_exec(
                    engine, engine_id=started.engine_id, command=shlex.split(values["healthcheck"])
                )
                ok, last = code == 0, f"command exited with {code}"
            else:
                # No probe: a process that stays up for a second has started.
                ok, last = time.monotonic() - stable_since >= 1.0, "still starting"
            if ok:
                return started
        if time.monotonic() > deadline:
            what = (
                f"GET {values['healthcheck']} on port {CONTAINER_PORT}"
                if kind == HealthcheckKind.HTTP
                else f"`{values['healthcheck']}`"
            )
            raise StartError(
                f"{label} did not pass its health check ({what}) within {values['healthcheck_timeout']} s: {last}. "
                f"Make the process listen on $PORT and answer {values['healthcheck'] or '/'} with 2xx/3xx, "
                f"or raise the health check timeout."
            )
        # Poll briskly while a process is likely just binding its port, then back off.
        time.sleep(0.05 if time.monotonic() - stable_since < 3 else 0.25)


def remove_quietly(*, host: DockerHost, engine_id: str) -> None:
    with contextlib.suppress(EngineError):
        docker_ops.container_remove(host_spec(host), engine_id=engine_id)


def remove_by_name(*, host: DockerHost, deployment_id: int, name: str) -> None:
    """Remove the container `name` of a deployment; one created just before a crash has no recorded id, only a name."""
    try:
        found = docker_ops.containers_list(host_spec(host), labels={DEPLOYMENT_LABEL: str(deployment_id)})
    except EngineError:
        return
    for seen in found:
        if seen["name"] == name:
            remove_quietly(host=host, engine_id=seen["engine_id"])


def containers_stop(containers: Iterable[Container], *, grace: int = STOP_GRACE) -> list[str]:
    """Stop and remove containers in parallel (SIGTERM, grace, SIGKILL); return the errors met."""
    containers = list(containers)

    def stop(container: Container) -> None:
        if container.engine_id:
            docker_ops.container_stop(host_spec(container.host), engine_id=container.engine_id, grace=grace)

    with pool(len(containers)) as executor:
        futures = {executor.submit(stop, container): container for container in containers}
    errors = []
    for future, container in futures.items():
        exc = future.exception()
        if exc is not None:
            errors.append(f"{container.name}: {getattr(exc, 'message', exc)}")
    return errors
