"""Reads of Docker hosts (staff only: callers check that)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from deployments import crypto
from deployments.engine.client import EngineSpec
from deployments.models import DockerHost


def host_list() -> QuerySet[DockerHost]:
    return DockerHost.objects.all()


def host_get(*, name: str) -> DockerHost:
    return get_object_or_404(DockerHost, name=name)


def host_spec(host: DockerHost) -> EngineSpec:
    """Return how to reach the host's engine, with its TLS material decrypted (only here)."""
    return EngineSpec(
        name=host.name,
        url=host.engine_url,
        tls_ca=crypto.decrypt(host.tls_ca) if host.tls_ca else "",
        tls_cert=crypto.decrypt(host.tls_cert) if host.tls_cert else "",
        tls_key=crypto.decrypt(host.tls_key) if host.tls_key else "",
    )
