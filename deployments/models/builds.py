"""Builds: source in, image out."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from deployments.models.apps import App


class SourceKind(models.TextChoices):
    TARBALL = "tarball", "Uploaded tarball"
    GIT = "git", "Git repository"
    IMAGE = "image", "Existing image"


class BuildStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Build(models.Model):
    """One build of an app: its source, its log, and the image it produced."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="builds")
    number = models.PositiveIntegerField()
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    # {"image": ref} | {"git": {"url", "ref"}} | {"archive": path, "dockerfile": path}
    source = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=BuildStatus.choices, default=BuildStatus.PENDING)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    image = models.CharField(max_length=300, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    layers = models.PositiveIntegerField(null=True, blank=True)
    process_types = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # Set by a build without a Dockerfile: the buildpack that compiled it and the stack it ran on.
    buildpack = models.CharField(max_length=300, blank=True)
    stack = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "number"], name="build_unique_number_per_app")]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.app} build {self.number}"
