"""Containers, networks and images on one engine: what a rollout asks of a Docker host.

Every function takes an EngineSpec, raises EngineError with a readable message, and returns plain data.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from dataclasses import dataclass, field

import docker.errors
import docker.types

from deployments.engine import secret_files
from deployments.engine.client import EngineError, EngineSpec, client_for, fakeable, translated
from deployments.engine.labels import MANAGED_LABEL

# A crashing process is restarted a few times by the engine, then left for the reconciler to judge.
RESTART_MAX = 3
PIDS_LIMIT = 512
TMP_MB = 64
# Docker's own health check of a command probe: Berth's probe decides a rollout, this one shows in `docker ps`.
HEALTH_INTERVAL_NS = 30 * 1_000_000_000
HEALTH_TIMEOUT_NS = 10 * 1_000_000_000


@dataclass
class RunSpec:
    """What to start: the hardening is not optional, only the sizes and the command vary."""

    name: str
    image: str
    env: dict[str, str]
    labels: dict[str, str]
    network: str
    memory_mb: int
    cpu: float
    command: list[str] | None = None
    port: int | None = None
    bind_ip: str = "127.0.0.1"
    # False: `port` is not published; the router reaches the container on its network (HostRouting.NETWORK).
    publish: bool = True
    pids_limit: int = PIDS_LIMIT
    restart_max: int = RESTART_MAX
    # A read-only root filesystem with a tmpfs /tmp of `tmp_mb`; False is the per-process opt-out for apps that write.
    read_only: bool = True
    tmp_mb: int = TMP_MB
    # The user to run as when the image names none ("uid:gid"); the image's own USER is always kept.
    default_user: str = ""
    # A command probe, also given to Docker as the container's HEALTHCHECK.
    healthcheck_command: str = ""
    # Secret files (path in the container -> content), written to tmpfs before the process starts (secret_files.py).
    secret_files: dict[str, bytes] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class Started:
    engine_id: str
    # The published port, or the container's own port when it is reached at `ip` on its network.
    host_port: int | None
    ip: str | None = None


_security_options: dict[EngineSpec, list[str]] = {}
_security_lock = threading.Lock()


def security_options(engine: EngineSpec) -> list[str]:
    """The confinement this host's kernel supports, named explicitly (read once per host from `docker info`).

    AppArmor's `docker-default` where the daemon reports AppArmor; the seccomp profile by name where the daemon
    knows the name `builtin` (Docker 23 and later). Older daemons apply their default seccomp profile unnamed.
    """
    with _security_lock:
        known = _security_options.get(engine)
    if known is not None:
        return known
    with translated(engine.name, "Engine info"):
        reported = client_for(engine).info().get("SecurityOptions") or []
    found = ["no-new-privileges:true"]
    names = {dict(part.split("=", 1) for part in item.split(",") if "=" in part).get("name"): item for item in reported}
    if "seccomp" in names and "profile=builtin" in names["seccomp"]:
        found.append("seccomp=builtin")
    if "apparmor" in names:
        found.append("apparmor=docker-default")
    with _security_lock:
        _security_options[engine] = found
    return found


def _user_for(client, spec: RunSpec) -> str:
    if not spec.default_user:
        return ""
    image_user = (client.api.inspect_image(spec.image).get("Config") or {}).get("User") or ""
    return "" if image_user else spec.default_user


def _hardened_kwargs(spec: RunSpec, *, restart: bool, engine: EngineSpec | None = None, client=None) -> dict:
    kwargs = {
        "name": spec.name,
        "environment": spec.env,
        "labels": {**spec.labels, MANAGED_LABEL: "1"},
        "init": True,
        "cap_drop": ["ALL"],
        "security_opt": security_options(engine) if engine else ["no-new-privileges:true"],
        "privileged": False,
        "read_only": spec.read_only,
        "mem_limit": f"{spec.memory_mb}m",
        "memswap_limit": f"{spec.memory_mb}m",
        "nano_cpus": int(spec.cpu * 1_000_000_000),
        "pids_limit": spec.pids_limit,
        "log_config": docker.types.LogConfig(type="local"),
        "network": spec.network,
        "detach": True,
    }
    if spec.read_only:
        # A path inside the container, not on this machine.
        kwargs["tmpfs"] = {"/tmp": f"rw,nosuid,nodev,size={spec.tmp_mb}m,mode=1777"}  # noqa: S108
    if client is not None and (user := _user_for(client, spec)):
        kwargs["user"] = user
    if spec.healthcheck_command:
        kwargs["healthcheck"] = {
            "test": ["CMD", *shlex.split(spec.healthcheck_command)],
            "interval": HEALTH_INTERVAL_NS,
            "timeout": HEALTH_TIMEOUT_NS,
            "retries": 3,
        }
    if restart:
        kwargs["restart_policy"] = {"Name": "on-failure", "MaximumRetryCount": spec.restart_max}
    if spec.command:
        kwargs["command"] = spec.command
    if spec.port and spec.publish:
        kwargs["ports"] = {f"{spec.port}/tcp": (spec.bind_ip, None)}
    return kwargs


def _create(client, engine: EngineSpec, spec: RunSpec, *, restart: bool, **extra):
    """Create the hardened container (not started), its secret files already in place when it has any."""
    kwargs = _hardened_kwargs(spec, restart=restart, engine=engine, client=client)
    kwargs.pop("detach")
    kwargs.update(extra)
    if not spec.secret_files:
        return client.containers.create(spec.image, **kwargs)
    mounted = secret_files.volumes_create(client, name=spec.name, files=spec.secret_files)
    kwargs["mounts"] = secret_files.app_mounts(mounted)
    container = None
    try:
        container = client.containers.create(spec.image, **kwargs)
        user = (container.attrs.get("Config") or {}).get("User") or ""
        secret_files.hold(client, container_id=container.id, name=spec.name, mounted=mounted, user=user)
        return container
    except Exception:
        if container is not None:
            container.remove(force=True)
            secret_files.release(client.api, container_id=container.id)
        for item in mounted:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_volume(item.volume)
        raise


def _removed(client, engine_id: str) -> None:
    """Remove a container and what held its secret files (even when the container was gone already)."""
    try:
        client.api.remove_container(engine_id, force=True)
    finally:
        secret_files.release(client.api, container_id=engine_id)


@fakeable
def network_ensure(engine: EngineSpec, *, name: str, labels: dict[str, str]) -> None:
    """Create the bridge network `name` unless it exists (a tenant's own network on this host)."""
    with translated(engine.name, f"Network {name}"):
        client = client_for(engine)
        if client.networks.list(names=[name]):
            return
        try:
            client.networks.create(name, driver="bridge", labels={**labels, MANAGED_LABEL: "1"}, check_duplicate=True)
        except docker.errors.APIError as exc:
            # Two rollouts of one tenant may race to create it: the loser finds it there.
            if not client.networks.list(names=[name]):
                raise EngineError(f"Network {name} could not be created on {engine.name}: {exc.explanation}") from exc


@fakeable
def network_remove(engine: EngineSpec, *, name: str) -> None:
    with translated(engine.name, f"Network {name}"):
        for network in client_for(engine).networks.list(names=[name]):
            network.remove()


@fakeable
def image_ensure(engine: EngineSpec, *, image: str, timeout: int = 300) -> None:
    """Make sure `image` is on the host: present, or pulled when its reference names a registry."""
    with translated(engine.name, f"Image {image}"):
        client = client_for(engine)
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        first = image.split("/", 1)[0]
        names_registry = "/" in image and ("." in first or ":" in first or first == "localhost")
        if not names_registry:
            raise EngineError(
                f"Image {image} is not on host {engine.name}, and its name names no registry to pull it from.",
                host=engine.name,
                not_found=True,
            )
        try:
            client_for(engine, timeout=timeout).images.pull(image)
        except docker.errors.APIError as exc:
            raise EngineError(
                f"Image {image} is not on host {engine.name} and could not be pulled: {exc.explanation or exc}",
                host=engine.name,
                not_found=True,
            ) from exc


@fakeable
def container_start(engine: EngineSpec, spec: RunSpec) -> Started:
    """Create and start a hardened long-running container; remove it again when it does not start."""
    with translated(engine.name, f"Container {spec.name}"):
        client = client_for(engine)
        container = _create(client, engine, spec, restart=True)
        try:
            container.start()
            container.reload()
        except Exception:
            _removed(client, container.id)
            raise
        return _reached(container.attrs, port=spec.port, publish=spec.publish, network=spec.network)


def _reached(attrs: dict, *, port: int | None, publish: bool, network: str) -> Started:
    """Where a started container answers: its published port, or its address on `network` and its own port."""
    settings = attrs.get("NetworkSettings") or {}
    if not port:
        return Started(engine_id=attrs["Id"], host_port=None)
    if not publish:
        ip = ((settings.get("Networks") or {}).get(network) or {}).get("IPAddress") or None
        return Started(engine_id=attrs["Id"], host_port=port if ip else None, ip=ip)
    bindings = (settings.get("Ports") or {}).get(f"{port}/tcp") or []
    return Started(engine_id=attrs["Id"], host_port=int(bindings[0]["HostPort"]) if bindings else None)


@fakeable
def container_reached(engine: EngineSpec, *, engine_id: str, port: int, publish: bool, network: str) -> Started:
    """Read again where a running container answers (a restart gives it a new published port, maybe a new address)."""
    with translated(engine.name, "Container address"):
        attrs = client_for(engine).api.inspect_container(engine_id)
    return _reached(attrs, port=port, publish=publish, network=network)


@fakeable
def container_state(engine: EngineSpec, *, engine_id: str) -> dict:
    """Return {"status", "exit_code", "restart_count", "oom_killed"} of a container."""
    with translated(engine.name, "Container state"):
        attrs = client_for(engine).api.inspect_container(engine_id)
        state = attrs["State"]
        return {
            "status": state.get("Status", ""),
            "exit_code": state.get("ExitCode", 0),
            "restart_count": attrs.get("RestartCount", 0),
            "oom_killed": state.get("OOMKilled", False),
        }


@fakeable
def container_logs_tail(engine: EngineSpec, *, engine_id: str, lines: int = 20) -> str:
    """Return the last lines a container printed, to explain why it failed ('' when unavailable)."""
    try:
        with translated(engine.name, "Container logs"):
            data = client_for(engine).api.logs(engine_id, stdout=True, stderr=True, tail=lines)
            return data.decode("utf-8", "replace").strip()
    except EngineError:
        return ""


@fakeable
def container_exec(engine: EngineSpec, *, engine_id: str, command: list[str], timeout: int = 10) -> int:
    """Run `command` inside a running container and return its exit code."""
    with translated(engine.name, "Health check command"):
        client = client_for(engine, timeout=timeout)
        result = client.containers.get(engine_id).exec_run(command, stdout=False, stderr=False)
        return result.exit_code


@fakeable
def container_stop(engine: EngineSpec, *, engine_id: str, grace: int = 10, remove: bool = True) -> None:
    """Stop a container (SIGTERM, `grace` seconds, SIGKILL) and remove it; a missing one is already gone."""
    try:
        with translated(engine.name, "Stop container"):
            client = client_for(engine, timeout=grace + 30)
            client.api.stop(engine_id, timeout=grace)
            if remove:
                _removed(client, engine_id)
    except EngineError as exc:
        if not exc.not_found:
            raise


@fakeable
def container_remove(engine: EngineSpec, *, engine_id: str) -> None:
    """Remove a container at once (SIGKILL); a missing one is already gone."""
    try:
        with translated(engine.name, "Remove container"):
            _removed(client_for(engine), engine_id)
    except EngineError as exc:
        if not exc.not_found:
            raise


@fakeable
def container_restart(engine: EngineSpec, *, engine_id: str, grace: int = 10) -> None:
    with translated(engine.name, "Restart container"):
        client_for(engine, timeout=grace + 30).api.restart(engine_id, timeout=grace)


@fakeable
def containers_list(engine: EngineSpec, *, labels: dict[str, str], all_states: bool = True) -> list[dict]:
    """Return the containers carrying every label in `labels`, as plain dicts."""
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    with translated(engine.name, "List containers"):
        rows = client_for(engine).api.containers(all=all_states, filters=filters)
    result = []
    for row in rows:
        ports = [port["PublicPort"] for port in row.get("Ports") or [] if port.get("PublicPort")]
        networks = (row.get("NetworkSettings") or {}).get("Networks") or {}
        ips = [item["IPAddress"] for item in networks.values() if item.get("IPAddress")]
        result.append(
            {
                "engine_id": row["Id"],
                "name": (row.get("Names") or ["/"])[0].lstrip("/"),
                "image": row.get("Image", ""),
                "state": row.get("State", ""),
                "status": row.get("Status", ""),
                "created": row.get("Created", 0),
                "labels": row.get("Labels") or {},
                "host_port": ports[0] if ports else None,
                # A Berth container is on one network, its tenant's.
                "ip": ips[0] if ips else None,
            }
        )
    return result


@fakeable
def oneoff_run(engine: EngineSpec, spec: RunSpec, *, timeout: int) -> tuple[int, str]:
    """Run a one-off hardened container to completion; return (exit code, its last output). Always removed."""
    with translated(engine.name, f"Release command {spec.name}"):
        client = client_for(engine)
        container = _create(client, engine, spec, restart=False)
        try:
            container.start()
            deadline = time.monotonic() + timeout
            while True:
                container.reload()
                if container.status in ("exited", "dead"):
                    break
                if time.monotonic() > deadline:
                    output = container.logs(tail=20).decode("utf-8", "replace").strip()
                    return 124, f"did not finish within {timeout} s. {output}".strip()
                time.sleep(0.2)
            code = container.attrs["State"].get("ExitCode", 1)
            output = container.logs(tail=20).decode("utf-8", "replace").strip()
            return code, output
        finally:
            _removed(client, container.id)


@fakeable
def inspect(engine: EngineSpec, *, engine_id: str) -> dict:
    """Return the engine's full inspection of a container (for audits and hardening checks)."""
    with translated(engine.name, "Inspect container"):
        return client_for(engine).api.inspect_container(engine_id)
