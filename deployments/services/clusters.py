"""Swarm clusters: registration by staff (the manager must answer as a manager) and removal."""

from __future__ import annotations

from django.db import transaction

from deployments.engine import client as engine
from deployments.engine import swarm as swarm_ops
from deployments.models import Cluster
from deployments.selectors.clusters import cluster_spec
from deployments.services.hosts import tls_encrypted, validate_engine_url
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


def cluster_delete(*, actor, cluster: Cluster) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, tenant=None, action="cluster.delete", target=cluster, diff={"manager_url": cluster.manager_url}
        )
        cluster.delete()
    engine.forget(cluster_spec(cluster))
