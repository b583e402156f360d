"""Tenant containers: what a process runs as, starting one hardened and healthy, stopping, listing, restarting."""

from __future__ import annotations

import contextlib
import http.client
import secrets
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from deployments import crypto
from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.engine.labels import (
    APP_LABEL,
    DEPLOYMENT_LABEL,
    INDEX_LABEL,
    INSTALLATION_LABEL,
    PROCESS_LABEL,
    RELEASE_LABEL,
    TENANT_LABEL,
)
from deployments.models import (
    LIVE_STATES,
    App,
    Container,
    ContainerState,
    Deployment,
    DockerHost,
    Formation,
    HealthcheckKind,
    Release,
)
from deployments.models.apps import WEB_PROCESS as WEB  # executions.py imports the name from here
from deployments.services.hosts import host_spec
from deployments.services.installation import installation_id
from portal.errors import Invalid
from tenants.audit import audit_record
from tenants.models import Tenant

CONTAINER_PORT = 5000
STOP_GRACE = 10
MAX_PARALLEL = 16
PROCESS_DEFAULTS = {
    "quantity": 1,
    "memory_mb": 256,
    "cpu": 0.5,
    "command": "",
    "healthcheck_kind": HealthcheckKind.HTTP,
    "healthcheck": "/",
    "healthcheck_timeout": 60,
}


class StartError(Exception):
    """A new container did not start or did not become healthy; the message tells the user what to fix."""


@dataclass
class Planned:
    """One container a deployment starts: where, as what, and (once started) how to reach it."""

    process_type: str
    index: int
    host: DockerHost
    name: str
    settings: dict
    row_id: int | None = None
    engine_id: str = ""
    host_port: int | None = None


def pool(size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(size, MAX_PARALLEL)), thread_name_prefix="berth-engine")


def release_image(*, release: Release) -> str:
    build = release.build
    image = ""
    if build is not None:
        image = build.image or (build.source or {}).get("image", "")
    if not image:
        raise Invalid(f"Release v{release.version} has no image: its build did not produce one.")
    return image


def release_processes(*, release: Release) -> dict[str, dict]:
    """Return {process_type: settings}: the release's formation snapshot, with the app's current quantities.

    Quantities change by scaling without a new release, so the live Formation rows win for `quantity`.
    """
    processes: dict[str, dict] = {}
    build_types = (release.build.process_types or {}) if release.build else {}
    for process_type, snapshot in (release.formation or {}).items():
        processes[process_type] = {**PROCESS_DEFAULTS, **(snapshot or {})}
        if not processes[process_type]["command"] and build_types.get(process_type):
            processes[process_type]["command"] = build_types[process_type]
    for row in Formation.objects.filter(app_id=release.app_id):
        current = processes.get(row.process_type)
        if current is None:
            current = processes[row.process_type] = {
                **PROCESS_DEFAULTS,
                "command": row.command or build_types.get(row.process_type, ""),
                "memory_mb": row.memory_mb,
                "cpu": float(row.cpu),
                "healthcheck_kind": row.healthcheck_kind,
                "healthcheck": row.healthcheck,
                "healthcheck_timeout": row.healthcheck_timeout,
            }
        current["quantity"] = row.quantity
    for values in processes.values():
        values["cpu"] = float(values["cpu"])
        values["memory_mb"] = int(values["memory_mb"])
        values["quantity"] = int(values["quantity"])
    return processes


def release_env(*, release: Release, process_type: str, port: int | None) -> dict[str, str]:
    """Return the container's environment; secrets are decrypted here, just before the engine call, and nowhere else."""
    env = {}
    for key, item in (release.config or {}).items():
        value = item.get("value", "") if isinstance(item, dict) else str(item)
        if isinstance(item, dict) and item.get("secret"):
            value = crypto.decrypt(value)
        env[key] = value
    app = release.app
    env.update(
        {
            "BERTH_TENANT": app.tenant.slug,
            "BERTH_APP": app.slug,
            "BERTH_RELEASE": f"v{release.version}",
            "BERTH_PROCESS": process_type,
        }
    )
    env["PORT"] = str(port or CONTAINER_PORT)
    return env


def tenant_network(*, tenant: Tenant) -> str:
    return f"berth-{tenant.slug}"


def container_name(*, release: Release, process_type: str, index: int) -> str:
    app = release.app
    return f"berth-{app.tenant.slug}-{app.slug}-v{release.version}-{process_type}-{index}-{secrets.token_hex(3)}"


def labels_for(*, release: Release, process_type: str, index: int, deployment_id: int | None) -> dict[str, str]:
    app = release.app
    labels = {
        TENANT_LABEL: app.tenant.slug,
        APP_LABEL: app.slug,
        RELEASE_LABEL: str(release.version),
        PROCESS_LABEL: process_type,
        INDEX_LABEL: str(index),
        INSTALLATION_LABEL: installation_id(),
    }
    if deployment_id:
        labels[DEPLOYMENT_LABEL] = str(deployment_id)
    return labels


def run_spec(*, release: Release, planned: Planned, image: str, deployment_id: int | None) -> docker_ops.RunSpec:
    web = planned.process_type == WEB
    values = planned.settings
    return docker_ops.RunSpec(
        name=planned.name,
        image=image,
        command=shlex.split(values["command"]) if values.get("command") else None,
        env=release_env(release=release, process_type=planned.process_type, port=CONTAINER_PORT),
        labels=labels_for(
            release=release, process_type=planned.process_type, index=planned.index, deployment_id=deployment_id
        ),
        network=tenant_network(tenant=release.app.tenant),
        memory_mb=values["memory_mb"],
        cpu=values["cpu"],
        port=CONTAINER_PORT if web else None,
        bind_ip=planned.host.address,
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
    spec: docker_ops.RunSpec,
    cancelled: Callable[[], bool],
    on_started: Callable[[Planned], None] | None = None,
) -> docker_ops.Started:
    """Start one container and wait until it passes its health check (runs in a pool thread)."""
    engine = host_spec(planned.host)
    label = f"{planned.process_type}.{planned.index} on {planned.host.name}"
    try:
        started = docker_ops.container_start(engine, spec)
    except EngineError as exc:
        raise StartError(f"{label} did not start: {exc.message}") from exc
    planned.engine_id, planned.host_port = started.engine_id, started.host_port
    if on_started is not None:
        on_started(planned)
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
                ok, last = _http_ok(planned.host.address, started.host_port, values["healthcheck"])
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


def stop_containers(containers: list[Container], *, grace: int = STOP_GRACE) -> list[str]:
    """Stop and remove containers in parallel (SIGTERM, grace, SIGKILL); return the errors met."""
    errors: list[str] = []

    def stop(container: Container) -> None:
        if container.engine_id:
            docker_ops.container_stop(host_spec(container.host), engine_id=container.engine_id, grace=grace)

    with pool(len(containers)) as executor:
        futures = {executor.submit(stop, container): container for container in containers}
    for future, container in futures.items():
        exc = future.exception()
        if exc is not None:
            errors.append(f"{container.name}: {getattr(exc, 'message', exc)}")
    now = timezone.now()
    Container.objects.filter(pk__in=[c.pk for c in containers]).update(
        state=ContainerState.EXITED, routed=False, updated_at=now
    )
    return errors


def container_list(*, app: App) -> tuple[list[dict], list[str]]:
    """Read the app's containers from the engines (the real state), with Berth's record beside it.

    Returns (containers, unreachable host names). A host that does not answer lists its known containers as
    `unknown`.
    """
    rows = {c.engine_id: c for c in Container.objects.filter(app=app).select_related("host", "release")}
    hosts = list(DockerHost.objects.all())
    labels = {TENANT_LABEL: app.tenant.slug, APP_LABEL: app.slug}

    def read(host: DockerHost):
        return docker_ops.containers_list(host_spec(host), labels=labels)

    with pool(len(hosts)) as executor:
        futures = {host: executor.submit(read, host) for host in hosts}
    result, unreachable = [], []
    for host, future in futures.items():
        exc = future.exception()
        if exc is not None:
            unreachable.append(host.name)
            for row in rows.values():
                if row.host_id == host.pk and row.state in LIVE_STATES:
                    result.append(_row_out(row, state="unknown", status="host does not answer"))
            continue
        for seen in future.result():
            labels_seen = seen["labels"]
            record = rows.get(seen["engine_id"])
            result.append(
                {
                    "id": seen["engine_id"][:12],
                    "name": seen["name"],
                    "host": host.name,
                    "process_type": labels_seen.get(PROCESS_LABEL, ""),
                    "index": int(labels_seen.get(INDEX_LABEL, "0") or 0),
                    "release": int(labels_seen.get(RELEASE_LABEL, "0") or 0),
                    "state": seen["state"],
                    "status": seen["status"],
                    "host_port": seen["host_port"],
                    "routed": bool(record and record.routed),
                }
            )
    result.sort(key=lambda item: (item["process_type"], item["index"], item["host"], item["name"]))
    return result, unreachable


def _row_out(row: Container, *, state: str, status: str) -> dict:
    return {
        "id": row.engine_id[:12],
        "name": row.name,
        "host": row.host.name,
        "process_type": row.process_type,
        "index": row.index,
        "release": row.release.version,
        "state": state,
        "status": status,
        "host_port": row.host_port,
        "routed": row.routed,
    }


def container_restart(*, actor, app: App, container: Container) -> Container:
    """Restart one container in place (SIGTERM, grace, SIGKILL, start); the router retries the others meanwhile."""
    try:
        docker_ops.container_restart(host_spec(container.host), engine_id=container.engine_id, grace=STOP_GRACE)
    except EngineError as exc:
        raise Invalid(f"Container {container.name} could not be restarted: {exc.message}") from exc
    with transaction.atomic():
        Container.objects.filter(pk=container.pk).update(state=ContainerState.RUNNING, updated_at=timezone.now())
        audit_record(
            actor=actor,
            tenant=app.tenant,
            action="container.restart",
            target=container,
            diff={"host": container.host.name},
        )
    container.refresh_from_db()
    return container


def app_teardown(*, tenant: str, app: str, containers: list[dict]) -> int:
    """Stop and remove a deleted app's containers on every host; return how many were removed.

    Besides the recorded ones, containers labelled with the app's slugs are swept, but only those whose deployment
    no longer exists: an app created again under the same name keeps its new containers.
    """
    hosts = {host.name: host for host in DockerHost.objects.all()}
    known = {item["engine_id"]: item["host"] for item in containers if item.get("host") in hosts}
    for host in hosts.values():
        try:
            found = docker_ops.containers_list(host_spec(host), labels={TENANT_LABEL: tenant, APP_LABEL: app})
        except EngineError:
            continue
        deployment_ids = {int(c["labels"].get(DEPLOYMENT_LABEL, "0") or 0) for c in found}
        alive = set(Deployment.objects.filter(pk__in=deployment_ids).values_list("pk", flat=True))
        for seen in found:
            if int(seen["labels"].get(DEPLOYMENT_LABEL, "0") or 0) not in alive:
                known.setdefault(seen["engine_id"], host.name)

    def stop(engine_id: str, host_name: str) -> None:
        docker_ops.container_stop(host_spec(hosts[host_name]), engine_id=engine_id, grace=STOP_GRACE)

    with pool(len(known)) as executor:
        futures = [executor.submit(stop, engine_id, host_name) for engine_id, host_name in known.items()]
    return sum(1 for future in futures if future.exception() is None)
