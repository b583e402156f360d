"""Services on a Docker Swarm manager: what the Swarm scheduler asks of a cluster.

A process type of a release runs as one service with Berth's labels on the service and on its task containers (so
the collectors and samplers of each node find them as they find a host's containers). Its hardening is what a
service can carry on Docker 20.10 (API 1.41): init, every capability dropped, a read-only root with a tmpfs /tmp,
the default uid when the image names none, memory and CPU limits and reservations, a pids limit, Docker's health
check, a start-first update that Swarm rolls back itself when the new tasks fail. A service cannot carry
`no-new-privileges` or a seccomp/AppArmor profile by name on this API (a task gets the daemon's default seccomp
profile); docs/operations.md says so. Ports are published in host mode (each task on its node's address, a port the
node picks), because the routing mesh needs IPVS, which these kernels lack. Secret files are Swarm secrets, mounted
at their path with mode 0400 and the container user's uid and gid; Swarm keeps them in its encrypted raft log and in
a tmpfs on the node, never in the service's spec, the image or the task's environment.

Every function takes the manager's EngineSpec, raises EngineError with a readable message, and returns plain data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import docker.errors
import docker.types

from deployments.engine.client import EngineError, EngineSpec, client_for, fakeable, translated
from deployments.engine.labels import MANAGED_LABEL

TMP_MB = 64
PIDS_LIMIT = 512
NANO = 1_000_000_000
# How long Swarm watches new tasks after each one starts before it calls an update done, and rolls back on failure.
MONITOR_NS = 5 * NANO
HEALTH_INTERVAL_NS = 2 * NANO


@dataclass
class ServiceSpec:
    """What to run as one service: the hardening is not optional, only the sizes, the command and the files vary."""

    name: str
    image: str
    env: dict[str, str]
    labels: dict[str, str]
    network: str
    replicas: int
    memory_mb: int
    cpu: float
    command: list[str] | None = None
    port: int | None = None
    read_only: bool = True
    tmp_mb: int = TMP_MB
    default_user: str = ""
    # The health check as a command in the container ('' for none): Swarm waits for it before a task counts.
    healthcheck_command: list[str] = field(default_factory=list)
    # Secret files: path in the container -> content.
    secret_files: dict[str, bytes] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    # A one-off task (the release phase): never restarted, no port, one replica that runs to its end.
    oneoff: bool = False


@dataclass(frozen=True)
class Task:
    task_id: str
    node_id: str
    slot: int
    state: str
    desired: str
    error: str
    container_id: str
    host_port: int | None
    exit_code: int | None = None


class NotAManager(EngineError):
    """The engine answers, but it is not a manager of a swarm."""


@fakeable
def swarm_nodes(engine: EngineSpec) -> list[dict]:
    """The cluster's nodes: {"id", "address", "state", "availability", "role", "labels"}; EngineError off a manager."""
    with translated(engine.name, "Swarm nodes"):
        client = client_for(engine)
        try:
            nodes = client.api.nodes()
        except docker.errors.APIError as exc:
            raise NotAManager(
                f"Engine {engine.name} is not a Swarm manager: {exc.explanation or exc}", host=engine.name
            ) from exc
    return [
        {
            "id": node["ID"],
            "address": node["Status"].get("Addr", ""),
            "state": node["Status"].get("State", ""),
            "availability": node["Spec"].get("Availability", ""),
            "role": node["Spec"].get("Role", ""),
            "labels": node["Spec"].get("Labels") or {},
        }
        for node in nodes
    ]


@fakeable
def swarm_node_id(engine: EngineSpec) -> str:
    """The Swarm node id of the engine ('' when it is in no swarm): which node of a cluster a host's engine is."""
    with translated(engine.name, "Swarm node"):
        info = client_for(engine).info()
    swarm = info.get("Swarm") or {}
    return swarm.get("NodeID", "") if swarm.get("LocalNodeState") == "active" else ""


def services_list(engine: EngineSpec, *, labels: dict[str, str]) -> list[dict]:
    """The services carrying every label of `labels`: {"id", "name", "labels", "replicas"}."""
    with translated(engine.name, "Services"):
        rows = client_for(engine).api.services(filters={"label": [f"{key}={value}" for key, value in labels.items()]})
    return [
        {
            "id": row["ID"],
            "name": row["Spec"]["Name"],
            "labels": row["Spec"].get("Labels") or {},
            "replicas": ((row["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
        }
        for row in rows
    ]


def overlay_ensure(engine: EngineSpec, *, name: str, labels: dict[str, str]) -> None:
    """Create the attachable overlay network `name` unless it exists (a tenant's own network on the cluster)."""
    with translated(engine.name, f"Network {name}"):
        client = client_for(engine)
        if client.networks.list(names=[name], filters={"driver": "overlay"}):
            return
        client.networks.create(name, driver="overlay", attachable=True, labels={**labels, MANAGED_LABEL: "1"})


def _secret_name(service: str, path: str, data: bytes) -> str:
    # Swarm secrets are immutable: a new value is a new secret, named after its content.
    digest = hashlib.sha256(path.encode() + b"\0" + data).hexdigest()[:12]
    return f"{service}-{digest}"[:64]


def _user(client, spec: ServiceSpec) -> str:
    image_user = (client.api.inspect_image(spec.image).get("Config") or {}).get("User") or ""
    return image_user or spec.default_user


def _numeric(user: str) -> tuple[str, str]:
    uid, _, gid = user.partition(":")
    if user and not uid.isdigit():
        raise EngineError(f"The image's user {uid} is a name: secret files on Swarm need a numeric USER (uid:gid).")
    return (uid or "0"), (gid or uid or "0")


def service_create(engine: EngineSpec, spec: ServiceSpec) -> str:
    """Create the service (and its secrets); return its id. Swarm starts its tasks at once."""
    with translated(engine.name, f"Service {spec.name}"):
        client = client_for(engine)
        user = _user(client, spec)
        secrets = []
        if spec.secret_files:
            uid, gid = _numeric(user)
            for path, data in sorted(spec.secret_files.items()):
                name = _secret_name(spec.name, path, data)
                found = client.api.secrets(filters={"name": name})
                secret_id = (
                    found[0]["ID"]
                    if found
                    else client.api.create_secret(name, data, labels={**spec.labels, MANAGED_LABEL: "1"})["ID"]
                )
                secrets.append(
                    docker.types.SecretReference(secret_id, name, filename=path, uid=uid, gid=gid, mode=0o400)
                )
        labels = {**spec.labels, MANAGED_LABEL: "1"}
        mounts = []
        if spec.read_only:
            mounts.append(
                docker.types.Mount(target="/tmp", source="", type="tmpfs", tmpfs_size=spec.tmp_mb * 1024 * 1024)  # noqa: S108
            )
        healthcheck = None
        if spec.healthcheck_command:
            healthcheck = docker.types.Healthcheck(
                test=["CMD", *spec.healthcheck_command],
                interval=HEALTH_INTERVAL_NS,
                timeout=2 * NANO,
                retries=3,
                start_period=NANO,
            )
        container = docker.types.ContainerSpec(
            spec.image,
            command=spec.command,
            env=[f"{key}={value}" for key, value in sorted(spec.env.items())],
            labels=labels,
            user=user or None,
            mounts=mounts,
            healthcheck=healthcheck,
            secrets=secrets or None,
            init=True,
            read_only=spec.read_only,
            cap_drop=["ALL"],
        )
        resources = docker.types.Resources(
            cpu_limit=int(spec.cpu * NANO),
            mem_limit=spec.memory_mb * 1024 * 1024,
            cpu_reservation=int(spec.cpu * NANO / 4),
            mem_reservation=spec.memory_mb * 1024 * 1024 // 4,
        )
        # docker-py's Resources knows no pids limit; the API (1.41) does.
        resources["Limits"]["Pids"] = PIDS_LIMIT
        template = docker.types.TaskTemplate(
            container,
            resources=resources,
            restart_policy=(
                docker.types.RestartPolicy(condition="none")
                if spec.oneoff
                else docker.types.RestartPolicy(condition="on-failure", delay=NANO, max_attempts=3)
            ),
            placement=docker.types.Placement(constraints=spec.constraints or None),
            networks=[{"Target": spec.network}],
            log_driver={"Name": "local"},
        )
        endpoint = None
        if spec.port:
            endpoint = docker.types.EndpointSpec(
                ports=[{"Protocol": "tcp", "TargetPort": spec.port, "PublishMode": "host"}]
            )
        update = docker.types.UpdateConfig(
            parallelism=1, order="start-first", failure_action="rollback", monitor=MONITOR_NS
        )
        rollback = docker.types.RollbackConfig(parallelism=1, order="start-first", monitor=MONITOR_NS)
        answer = client.api.create_service(
            template,
            name=spec.name,
            labels=labels,
            mode=docker.types.ServiceMode("replicated", replicas=spec.replicas),
            update_config=update,
            rollback_config=rollback,
            endpoint_spec=endpoint,
        )
        return answer["ID"]


def service_tasks(engine: EngineSpec, *, service_id: str) -> list[Task]:
    """The service's tasks, newest state first per slot as the manager reports them."""
    with translated(engine.name, "Service tasks"):
        rows = client_for(engine).api.tasks(filters={"service": service_id})
    tasks = []
    for row in rows:
        status = row.get("Status") or {}
        ports = (status.get("PortStatus") or {}).get("Ports") or []
        tasks.append(
            Task(
                task_id=row["ID"],
                node_id=row.get("NodeID", ""),
                slot=int(row.get("Slot") or 0),
                state=status.get("State", ""),
                desired=row.get("DesiredState", ""),
                error=status.get("Err", "") or status.get("Message", ""),
                container_id=(status.get("ContainerStatus") or {}).get("ContainerID", ""),
                host_port=ports[0]["PublishedPort"] if ports else None,
                exit_code=(status.get("ContainerStatus") or {}).get("ExitCode"),
            )
        )
    return tasks


def service_output(engine: EngineSpec, *, service_id: str, tail: int = 20) -> str:
    """The last lines a service's tasks wrote (stdout and stderr), '' when the nodes keep none."""
    with translated(engine.name, f"Service {service_id[:12]} logs"):
        try:
            chunks = client_for(engine).api.service_logs(service_id, stdout=True, stderr=True, tail=tail)
            data = b"".join(chunks) if not isinstance(chunks, bytes) else chunks
        except docker.errors.APIError:
            return ""
    return data.decode("utf-8", "replace").strip()


def service_update(engine: EngineSpec, *, service_id: str, image: str | None = None, replicas: int | None = None,
                   env: dict[str, str] | None = None) -> None:  # fmt: skip
    """Change the service's image, environment or replicas; Swarm rolls it out start-first (rolls back on failure)."""
    with translated(engine.name, f"Service {service_id[:12]}"):
        api = client_for(engine).api
        current = api.inspect_service(service_id)
        spec = current["Spec"]
        task = spec["TaskTemplate"]
        if image is not None:
            task["ContainerSpec"]["Image"] = image
        if env is not None:
            task["ContainerSpec"]["Env"] = [f"{key}={value}" for key, value in sorted(env.items())]
        mode = spec.get("Mode") or {}
        if replicas is not None:
            mode = {"Replicated": {"Replicas": replicas}}
        api.update_service(
            service_id,
            version=current["Version"]["Index"],
            task_template=task,
            name=spec["Name"],
            labels=spec.get("Labels"),
            mode=mode,
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )


def service_update_status(engine: EngineSpec, *, service_id: str) -> dict:
    """{"state": "updating" | "completed" | "rollback_started" | "rollback_completed" | "paused" | "", "message"}."""
    with translated(engine.name, f"Service {service_id[:12]}"):
        status = client_for(engine).api.inspect_service(service_id).get("UpdateStatus") or {}
    return {"state": status.get("State", ""), "message": status.get("Message", "")}


def service_remove(engine: EngineSpec, *, service_id: str) -> None:
    """Remove the service and the secrets it used; a missing one is already gone."""
    try:
        with translated(engine.name, f"Remove service {service_id[:12]}"):
            api = client_for(engine).api
            try:
                spec = api.inspect_service(service_id)["Spec"]
            except docker.errors.NotFound:
                return
            secrets = (spec["TaskTemplate"]["ContainerSpec"].get("Secrets")) or []
            api.remove_service(service_id)
            for secret in secrets:
                # A secret stays while a task that used it is still shutting down; a sweep takes it later.
                try:
                    api.remove_secret(secret["SecretID"])
                except docker.errors.APIError:
                    continue
    except EngineError as exc:
        if not exc.not_found:
            raise
