"""Rollouts of releases, custom domains and garbage-collection runs."""

from django.db import models
from django.utils import timezone

from deployments.models.apps import App
from deployments.models.hosts import DockerHost
from deployments.models.releases import Release


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"


class DeploymentKind(models.TextChoices):
    ROLLOUT = "rollout", "Rollout of a release"
    SCALE = "scale", "Scale to the formation"


class Deployment(models.Model):
    """One rollout of a release: a persisted plan executed step by step by the worker."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="deployments")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deployments")
    kind = models.CharField(max_length=16, choices=DeploymentKind.choices, default=DeploymentKind.ROLLOUT)
    status = models.CharField(max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.PENDING)
    plan = models.JSONField(default=dict, blank=True)
    # [{"name", "status", "started_at", "finished_at", "detail"}]
    steps = models.JSONField(default=list, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.release} deployment {self.pk}"


class Domain(models.Model):
    """A custom hostname routed to an app's web process."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="domains")
    hostname = models.CharField(max_length=253, unique=True)
    certificate = models.TextField(blank=True)
    private_key = models.TextField(blank=True, help_text="Encrypted with deployments.crypto.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class GcRun(models.Model):
    """One garbage collection of a host: what it removed (or would remove) and the bytes it reclaimed."""

    host = models.ForeignKey(DockerHost, on_delete=models.CASCADE, related_name="gc_runs")
    dry_run = models.BooleanField(default=True)
    removed = models.JSONField(default=dict, blank=True)
    bytes_reclaimed = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"GC {self.host} {self.created_at:%Y-%m-%d %H:%M}"
