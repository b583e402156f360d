"""Reads of Docker hosts (staff only: callers check that)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from deployments.models import DockerHost


def host_list() -> QuerySet[DockerHost]:
    return DockerHost.objects.all()


def host_get(*, name: str) -> DockerHost:
    return get_object_or_404(DockerHost, name=name)
