"""A deployment's plan: what each process runs as, which containers start where, which go, and the quota it meets.

Planning reads the database and writes only the Deployment row's `plan`; it never calls an engine. A Plan is frozen:
the steps that follow record what happened in the database instead of writing into the plan.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Sum

from deployments import crypto
from deployments.engine import containers as docker_ops
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
    Deployment,
    DockerHost,
    Formation,
    HealthcheckKind,
    HostRouting,
    Release,
)
from deployments.models.apps import WEB_PROCESS
from deployments.services.installation import installation_id
from deployments.services.rollouts.errors import RolloutFailed
from deployments.services.rollouts.placement import place
from portal.errors import Invalid
from tenants.audit import audit_record
from tenants.models import Tenant

WEB = WEB_PROCESS  # the process the router serves
CONTAINER_PORT = 5000
PROCESS_DEFAULTS = {
    "quantity": 1,
    "memory_mb": 256,
    "cpu": 0.5,
    "command": "",
    "healthcheck_kind": HealthcheckKind.HTTP,
    "healthcheck": "/",
    "healthcheck_timeout": 60,
    "read_only": True,
    "tmp_mb": docker_ops.TMP_MB,
}


@dataclass(frozen=True)
class Planned:
    """One container a deployment starts: where, and as what; `row_id` once its Container row exists."""

    process_type: str
    index: int
    host: DockerHost
    name: str
    settings: dict
    row_id: int | None = None


@dataclass(frozen=True)
class Plan:
    """What a deployment does: start `new` from `image`, then stop `leaving` (the old release, or the extra ones)."""

    image: str
    new: tuple[Planned, ...]
    leaving: tuple[Container, ...]


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
                "read_only": row.read_only,
                "tmp_mb": row.tmp_mb,
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
        if isinstance(item, dict) and item.get("file"):
            continue  # a secret file (release_files), never an environment variable
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


def _file_vars(release: Release) -> dict[str, dict]:
    """The release's config entries that are secret files: {KEY: {"value" (encrypted), "secret", "file"}}."""
    return {key: item for key, item in (release.config or {}).items() if isinstance(item, dict) and item.get("file")}


def release_files(*, release: Release) -> dict[str, bytes]:
    """The release's secret files (path in the container -> content), decrypted here, just before the engine call."""
    return {item["file"]: crypto.decrypt(item["value"]).encode() for item in _file_vars(release).values()}


def files_audit(*, release: Release, container: str, host: DockerHost) -> None:
    """Record that the secret files of `release` are mounted into `container` (a per-tenant audit of secret use)."""
    files = {key: item["file"] for key, item in _file_vars(release).items()}
    if files:
        audit_record(
            actor=None,
            tenant=release.app.tenant,
            action="config.file_mount",
            target=release.app,
            diff={"release": release.version, "container": container, "host": host.name, "files": files},
        )


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
    """What the engine starts for `planned`; the mount of any secret file into it is audited here."""
    web = planned.process_type == WEB
    values = planned.settings
    files_audit(release=release, container=planned.name, host=planned.host)
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
        publish=planned.host.routing != HostRouting.NETWORK,
        read_only=bool(values.get("read_only", True)),
        tmp_mb=int(values.get("tmp_mb", docker_ops.TMP_MB)),
        default_user=default_user(),
        healthcheck_command=values["healthcheck"] if values["healthcheck_kind"] == HealthcheckKind.COMMAND else "",
        secret_files=release_files(release=release),
    )


def default_user() -> str:
    """The uid:gid a container runs as when its image names no USER ('' when BERTH_DEFAULT_UID is empty)."""
    uid = str(settings.BERTH_DEFAULT_UID).strip()
    return f"{uid}:{uid}" if uid else ""


def quota_check(*, app: App, processes: dict[str, dict]) -> None:
    tenant = app.tenant
    wanted = sum(values["quantity"] for values in processes.values())
    memory = sum(values["quantity"] * values["memory_mb"] for values in processes.values())
    others = Container.objects.filter(app__tenant=tenant, state__in=LIVE_STATES).exclude(app=app)
    used = others.aggregate(count=Count("id"), memory=Sum("memory_mb"))
    used_count, used_memory = used["count"] or 0, used["memory"] or 0
    if used_count + wanted > tenant.max_containers:
        raise RolloutFailed(
            f"The formation asks for {wanted} containers, but tenant {tenant.slug}'s quota allows "
            f"{tenant.max_containers} and its other apps run {used_count}: scale down, or ask for a larger quota."
        )
    if used_memory + memory > tenant.max_memory_mb:
        raise RolloutFailed(
            f"The formation asks for {memory} MB of memory, but tenant {tenant.slug}'s quota allows "
            f"{tenant.max_memory_mb} MB and its other apps use {used_memory} MB: scale down or lower the memory."
        )


def _plan_save(
    *,
    deployment: Deployment,
    image: str,
    processes: dict[str, dict],
    wanted: list[tuple[str, int, int]],
    hosts: list[DockerHost],
    leaving: tuple[str, list[Container]],
) -> Plan:
    """Place `wanted` on `hosts`, and record the plan with the containers that go under `leaving`'s key."""
    new = tuple(
        Planned(
            process_type=process_type,
            index=index,
            host=host,
            name=container_name(release=deployment.release, process_type=process_type, index=index),
            settings=processes[process_type],
        )
        for (process_type, index, _memory), host in zip(wanted, hosts, strict=True)
    )
    key, going = leaving
    deployment.plan = {
        "image": image,
        "containers": [{"process": p.process_type, "index": p.index, "host": p.host.name, "name": p.name} for p in new],
        key: [c.pk for c in going],
    }
    deployment.save(update_fields=["plan"])
    return Plan(image=image, new=new, leaving=tuple(going))


def _web_first(processes: dict[str, dict]) -> list[tuple[str, dict]]:
    # The web process first: it is what users reach, so it is placed (and repaired) before the others.
    return sorted(processes.items(), key=lambda item: (item[0] != WEB, item[0]))


def web_check(*, release: Release, processes: dict[str, dict]) -> None:
    if WEB not in processes:
        raise RolloutFailed(
            f"Release v{release.version} has no web process, so the router has nothing to send traffic to: "
            "add a `web:` line to the Procfile (or a web entry to the formation)."
        )


def rollout_plan(*, deployment: Deployment, unable: dict[int, str] | None = None) -> Plan:
    """Plan the rollout of the deployment's release: every process's containers anew, replacing all live ones.

    `unable` maps the ids of hosts that cannot get the image to why (steps.image_unreachable): none is picked.
    """
    release, app = deployment.release, deployment.app
    processes = release_processes(release=release)
    web_check(release=release, processes=processes)
    image = release_image(release=release)
    quota_check(app=app, processes=processes)
    old = list(
        Container.objects.filter(app=app, state__in=LIVE_STATES).exclude(deployment=deployment).select_related("host")
    )
    wanted = [
        (process_type, index, values["memory_mb"])
        for process_type, values in _web_first(processes)
        for index in range(1, values["quantity"] + 1)
    ]
    hosts = place(app_id=app.pk, wanted=wanted, leaving={c.pk for c in old}, unable=unable)
    return _plan_save(
        deployment=deployment, image=image, processes=processes, wanted=wanted, hosts=hosts, leaving=("replaces", old)
    )


def scale_plan(*, deployment: Deployment, unable: dict[int, str] | None = None) -> Plan:
    """Plan a scale of the current release: start the missing indexes, stop those past the formation's quantity."""
    release, app = deployment.release, deployment.app
    processes = release_processes(release=release)
    image = release_image(release=release)
    quota_check(app=app, processes=processes)
    live = list(Container.objects.filter(app=app, release=release, state__in=LIVE_STATES).select_related("host"))
    wanted, extra = [], []
    for process_type, values in _web_first(processes):
        have = {c.index: c for c in live if c.process_type == process_type}
        for index in range(1, values["quantity"] + 1):
            if index not in have:
                wanted.append((process_type, index, values["memory_mb"]))
        extra += [c for index, c in have.items() if index > values["quantity"]]
    extra += [c for c in live if c.process_type not in processes]
    hosts = place(app_id=app.pk, wanted=wanted, leaving={c.pk for c in extra}, unable=unable) if wanted else []
    return _plan_save(
        deployment=deployment, image=image, processes=processes, wanted=wanted, hosts=hosts, leaving=("stops", extra)
    )
