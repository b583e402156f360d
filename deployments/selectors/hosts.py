"""Reads of Docker hosts (staff only: callers check that)."""

from django.db.models import QuerySet

from deployments.models import DockerHost
from portal.errors import NotFound


def host_list() -> QuerySet[DockerHost]:
    return DockerHost.objects.all()


def host_get(*, name: str) -> DockerHost:
    host = DockerHost.objects.filter(name=name).first()
    if host is None:
        raise NotFound()
    return host
