"""Reads of the registered Swarm clusters, and how to reach a cluster's manager."""

from django.db.models import QuerySet

from deployments import crypto
from deployments.engine.client import EngineSpec
from deployments.models import Cluster
from portal.errors import NotFound


def cluster_list() -> QuerySet[Cluster]:
    return Cluster.objects.all()


def cluster_get(*, name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        raise NotFound()
    return cluster


def cluster_spec(cluster: Cluster) -> EngineSpec:
    """How to reach the cluster's manager, its TLS material decrypted (only here). The name keeps its cached client
    apart from a host's of the same name."""
    return EngineSpec(
        name=f"cluster-{cluster.name}",
        url=cluster.manager_url,
        tls_ca=crypto.decrypt(cluster.tls_ca) if cluster.tls_ca else "",
        tls_cert=crypto.decrypt(cluster.tls_cert) if cluster.tls_cert else "",
        tls_key=crypto.decrypt(cluster.tls_key) if cluster.tls_key else "",
    )
