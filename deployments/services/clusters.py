"""Swarm clusters: registration by staff (the manager must answer as a manager) and removal."""

from __future__ import annotations

from django.db import transaction

from deployments.engine import client as engine
from deployments.engine import swarm as swarm_ops
from deployments.engine.client import EngineSpec
from deployments.models import App, Cluster, DockerHost
from deployments.selectors.clusters import cluster_spec
from deployments.services.hosts import host_create, tls_encrypted, validate_engine_url
from portal.errors import Conflict, Invalid
from tenants.audit import audit_record


def cluster_create(
    *, actor, name: str, manager_url: str, tls_ca: str = "", tls_cert: str = "", tls_key: str = ""
) -> tuple[Cluster, list[dict]]:
    """Register a cluster once its manager answered as a Swarm manager; return it with its nodes. Nothing is saved
    when the URL does not answer or names an engine that is no manager."""
    validate_engine_url(engine_url=manager_url, tls_cert=tls_cert, tls_key=tls_key, field="manager_url")
    if Cluster.objects.filter(name=name).exists():
        raise Conflict(f"A cluster named {name} already exists.", fields={"name": ["Already taken."]})
    cluster = Cluster(
        name=name,
        manager_url=manager_url,
        **tls_encrypted(tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key),
    )
    cluster.full_clean()
    spec = cluster_spec(cluster)
    try:
        version = engine.ping(spec)["engine_version"]
        nodes = swarm_ops.swarm_nodes(spec)
    except engine.EngineError as exc:
        engine.forget(spec)
        manager = not isinstance(exc, swarm_ops.NotAManager)
        raise Invalid(
            f"The cluster was not added: {exc.message}",
            code="engine_unreachable" if manager else "not_a_manager",
            fields={"manager_url": ["Did not answer." if manager else "Not a Swarm manager."]},
        ) from exc
    with transaction.atomic():
        cluster.engine_version = version
        cluster.save()
        audit_record(
            actor=actor,
            tenant=None,
            action="cluster.create",
            target=cluster,
            diff={"manager_url": manager_url, "nodes": len(nodes), "tls": bool(tls_cert)},
        )
    return cluster, nodes


def cluster_nodes(*, cluster: Cluster) -> tuple[list[dict], str]:
    """The cluster's nodes as its manager reports them now, and '' (or why they could not be read)."""
    try:
        return swarm_ops.swarm_nodes(cluster_spec(cluster)), ""
    except engine.EngineError as exc:
        return [], exc.message


def cluster_node_add(
    *, actor, cluster: Cluster, name: str, engine_url: str, address: str = "", tls_ca: str = "", tls_cert: str = "",
    tls_key: str = "",
) -> DockerHost:  # fmt: skip
    """Register a node's own engine as a host of the cluster, so that the collectors, samplers and GC reach its task
    containers as they reach a host's, and the router reaches their ports at `address` (the node's Swarm address
    when not given). Refused unless the engine is a node of this cluster."""
    validate_engine_url(engine_url=engine_url, tls_cert=tls_cert, tls_key=tls_key)
    probe = EngineSpec(name=f"node-{name}", url=engine_url, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key)
    try:
        node_id = swarm_ops.swarm_node_id(probe)
        nodes = swarm_ops.swarm_nodes(cluster_spec(cluster))
    except engine.EngineError as exc:
        raise Invalid(
            f"The node was not added: {exc.message}", code="engine_unreachable", fields={"engine_url": [exc.message]}
        ) from exc
    finally:
        engine.forget(probe)
    node = next((node for node in nodes if node["id"] == node_id), None) if node_id else None
    if node is None:
        raise Invalid(
            f"The engine at {engine_url} is not a node of cluster {cluster.name}: join it to the swarm first.",
            code="not_a_node",
            fields={"engine_url": ["Not a node of this cluster."]},
        )
    if DockerHost.objects.filter(cluster=cluster, node_id=node_id).exists():
        raise Conflict(f"Node {node_id[:12]} of cluster {cluster.name} is registered already.")
    return host_create(
        actor=actor,
        name=name,
        engine_url=engine_url,
        address=address or node["address"],
        labels={"swarm.role": node["role"]},
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
        cluster=cluster,
        node_id=node_id,
    )


def app_cluster_set(*, actor, app: App, cluster: Cluster | None) -> App:
    """Choose the scheduler of an app (staff): a cluster runs it as Swarm services from its next rollout on; none
    puts it back on the hosts. The rollout that follows moves it, blue/green, as any rollout replaces a release."""
    with transaction.atomic():
        before = app.cluster.name if app.cluster_id else None
        app.cluster = cluster
        app.save(update_fields=["cluster"])
        audit_record(
            actor=actor,
            tenant=app.tenant,
            action="app.cluster",
            target=app,
            diff={"cluster": [before, cluster.name if cluster else None]},
        )
    return app


def cluster_delete(*, actor, cluster: Cluster) -> None:
    if App.objects.filter(cluster=cluster).exists():
        raise Conflict(f"Apps run on cluster {cluster.name}: move them to the hosts or another cluster first.")
    with transaction.atomic():
        audit_record(
            actor=actor, tenant=None, action="cluster.delete", target=cluster, diff={"manager_url": cluster.manager_url}
        )
        cluster.delete()
    engine.forget(cluster_spec(cluster))
