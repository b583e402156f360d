"""An app's containers as its users see them: listed from the engines, restarted one at a time, torn down with the app.

Starting and stopping them as part of a deployment is the rollouts' work (services/rollouts/).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine.client import EngineError
from deployments.engine.labels import (
    APP_LABEL,
    DEPLOYMENT_LABEL,
    INDEX_LABEL,
    PROCESS_LABEL,
    RELEASE_LABEL,
    TENANT_LABEL,
)
from deployments.models import App, Container, ContainerState, Deployment, DockerHost
from deployments.router import RouterError
from deployments.selectors.rollouts import container_rows_live
from deployments.services.hosts import host_spec
from deployments.services.rollouts.containers import STOP_GRACE, pool
from deployments.services.rollouts.plan import CONTAINER_PORT, tenant_network
from deployments.services.rollouts.swarm_tasks import app_services_remove
from deployments.services.routes import routes_switch, routing_bump
from portal.errors import Invalid
from tenants.audit import audit_record

logger = logging.getLogger(__name__)


def container_list(*, app: App) -> tuple[list[dict], list[str]]:
    """Read the app's containers from the engines (the real state), with Berth's record beside it.

    Returns (containers, unreachable host names). A host that does not answer lists its known containers as
    `unknown`.
    """
    rows = {c.engine_id: c for c in container_rows_live(app=app)}
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
                if row.host_id == host.pk:
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
        # published ports only: a container reached on its network publishes none
        "host_port": row.host_port if row.ip is None else None,
        "routed": row.routed,
    }


def container_restart(*, actor, app: App, container: Container) -> Container:
    """Restart one container in place (SIGTERM, grace, SIGKILL, start); the router retries the others meanwhile."""
    try:
        docker_ops.container_restart(host_spec(container.host), engine_id=container.engine_id, grace=STOP_GRACE)
    except EngineError as exc:
        raise Invalid(f"Container {container.name} could not be restarted: {exc.message}") from exc
    reached = None
    if container.host_port is not None:
        # A restart publishes the port anew (another host port) and may give another network address.
        try:
            reached = docker_ops.container_reached(
                host_spec(container.host),
                engine_id=container.engine_id,
                port=CONTAINER_PORT,
                publish=container.ip is None,
                network=tenant_network(tenant=app.tenant),
            )
        except EngineError as exc:
            raise Invalid(f"Container {container.name} restarted but could not be read: {exc.message}") from exc
    with transaction.atomic():
        moved = reached is not None and (reached.host_port, reached.ip) != (container.host_port, container.ip)
        fields = {"host_port": reached.host_port, "ip": reached.ip} if moved else {}
        Container.objects.filter(pk=container.pk).update(
            state=ContainerState.RUNNING, updated_at=timezone.now(), **fields
        )
        version = routing_bump(app_ids=[app.pk]) if moved and container.routed else None
        audit_record(
            actor=actor,
            tenant=app.tenant,
            action="container.restart",
            target=container,
            diff={"host": container.host.name},
        )
    if version is not None:
        try:
            routes_switch(version)
        except RouterError as exc:
            # The routers apply the version on their next poll; the restart itself is done.
            logger.warning("routers did not confirm the new address of %s yet: %s", container.name, exc)
    container.refresh_from_db()
    return container


def app_teardown(*, tenant: str, app: str, containers: list[dict]) -> int:
    """Stop and remove a deleted app's containers on every host; return how many were removed.

    Besides the recorded ones, containers labelled with the app's slugs are swept, but only those whose deployment
    no longer exists: an app created again under the same name keeps its new containers. On a Swarm cluster the
    app's services are removed first.
    """
    app_services_remove(tenant=tenant, app=app)
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
