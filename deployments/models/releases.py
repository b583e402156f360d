"""Releases: numbered, immutable snapshots of a build, the config and the formation."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from deployments.models.apps import App
from deployments.models.builds import Build


class ReleaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DEPLOYING = "deploying", "Deploying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Release(models.Model):
    """Version N of an app. Only `status` and `error` change after creation."""

    MUTABLE_FIELDS = frozenset({"status", "error", "finished_at"})

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="releases")
    version = models.PositiveIntegerField()
    build = models.ForeignKey(Build, null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    # {KEY: {"value": str, "secret": bool}}; secret values stay encrypted exactly as ConfigVar holds them.
    config = models.JSONField(default=dict, blank=True)
    # {process_type: {"quantity", "memory_mb", "cpu", "command", "healthcheck_kind", "healthcheck", ...}}
    formation = models.JSONField(default=dict, blank=True)
    release_command = models.TextField(blank=True)
    summary = models.CharField(max_length=500)
    rollback_of = models.PositiveIntegerField(null=True, blank=True, help_text="Version this release copies.")
    status = models.CharField(max_length=16, choices=ReleaseStatus.choices, default=ReleaseStatus.PENDING)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "version"], name="release_unique_version_per_app")]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.app} v{self.version}"

    def save(self, *args, **kwargs):
        # Immutability is a data invariant, not business logic: refuse any write that touches the snapshot.
        if self.pk is not None:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= self.MUTABLE_FIELDS:
                raise ValueError("A release is immutable; only status, error and finished_at may change.")
        super().save(*args, **kwargs)
