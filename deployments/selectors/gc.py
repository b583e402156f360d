"""Reads of past garbage-collection runs."""

from django.db.models import QuerySet

from deployments.models import DockerHost, GcRun


def gc_run_list(*, host: DockerHost) -> QuerySet[GcRun]:
    """Return the past runs of `host`, newest first."""
    return GcRun.objects.filter(host=host).order_by("-id")
