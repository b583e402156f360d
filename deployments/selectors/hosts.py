"""Reads of Docker hosts (staff only: callers check that)."""

from django.db.models import QuerySet

from deployments import crypto
from deployments.engine.client import EngineSpec
from deployments.models import DockerHost
from portal.errors import NotFound


def host_list() -> QuerySet[DockerHost]:
    return DockerHost.objects.all()


def host_get(*, name: str) -> DockerHost:
    host = DockerHost.objects.filter(name=name).first()
    if host is None:
        raise NotFound()
    return host


def host_spec(host: DockerHost) -> EngineSpec:
    """Return how to reach the host's engine, with its TLS material decrypted (only here)."""
    return EngineSpec(
        name=host.name,
        url=host.engine_url,
        tls_ca=crypto.decrypt(host.tls_ca) if host.tls_ca else "",
        tls_cert=crypto.decrypt(host.tls_cert) if host.tls_cert else "",
        tls_key=crypto.decrypt(host.tls_key) if host.tls_key else "",
    )
