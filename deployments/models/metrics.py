"""Metric samples of containers and hosts (raw, per minute, per hour), container events, and monthly usage."""

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class Resolution(models.TextChoices):
    RAW = "raw", "Raw"
    MINUTE = "minute", "1 minute"
    HOUR = "hour", "1 hour"


class MetricSample(models.Model):
    """What one container (or, with `container` empty, one whole host) used over a span, at one resolution.

    A sample lives at one resolution only: downsampling folds raw samples into minute rows and minute rows into hour
    rows and deletes what it folded, so each reading is counted once and the rows stay bounded. Averages are
    weighted by `count` (how many raw samples a row stands for), totals (`cpu_seconds`, bytes) are sums over the
    span. The app is named by id and slugs without a foreign key: a deleted app's samples age out like the others.
    """

    resolution = models.CharField(max_length=8, choices=Resolution.choices, default=Resolution.RAW)
    at = models.DateTimeField(help_text="End of the sample (raw) or start of its bucket (minute, hour).")
    host = models.CharField(max_length=40)
    container = models.CharField(max_length=64, blank=True, help_text="Engine id; empty for the host's totals.")
    tenant_id = models.IntegerField(null=True, blank=True)
    tenant_slug = models.CharField(max_length=40, blank=True)
    app_id = models.IntegerField(null=True, blank=True)
    app_slug = models.CharField(max_length=40, blank=True)
    process_type = models.CharField(max_length=30, blank=True)
    index = models.IntegerField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    seconds = models.FloatField(default=0.0, help_text="Wall-clock seconds the row covers.")
    cpu_percent = models.FloatField(default=0.0, help_text="Average, in % of one core.")
    cpu_limit = models.FloatField(default=0.0, help_text="Cores; 0 for no limit (the host's CPUs for a host row).")
    cpu_seconds = models.FloatField(default=0.0)
    memory_bytes = models.BigIntegerField(default=0, help_text="Average.")
    memory_max_bytes = models.BigIntegerField(default=0)
    memory_limit_bytes = models.BigIntegerField(default=0)
    rx_bytes = models.BigIntegerField(default=0)
    tx_bytes = models.BigIntegerField(default=0)
    read_bytes = models.BigIntegerField(default=0)
    write_bytes = models.BigIntegerField(default=0)
    pids = models.PositiveIntegerField(default=0, help_text="Maximum.")
    containers = models.PositiveIntegerField(default=0, help_text="Containers a host row sums (0 on a container).")

    class Meta:
        indexes = [
            models.Index(fields=["app_id", "at"], name="metricsample_app_at"),
            models.Index(fields=["host", "container", "at"], name="metricsample_host_at"),
            models.Index(fields=["resolution", "at"], name="metricsample_resolution_at"),
        ]

    def __str__(self) -> str:
        return f"{self.host}/{self.container[:12] or '*'} {self.resolution} {self.at:%Y-%m-%d %H:%M:%S}"


class ContainerEventKind(models.TextChoices):
    OOM = "oom", "OOM-killed"
    RESTART = "restart", "Restarted"


class ContainerEvent(models.Model):
    """A container of an app was OOM-killed or restarted; what the badge, the API counters and /metrics count."""

    kind = models.CharField(max_length=8, choices=ContainerEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    host = models.CharField(max_length=40)
    container = models.CharField(max_length=64)
    tenant_id = models.IntegerField()
    tenant_slug = models.CharField(max_length=40)
    app_id = models.IntegerField()
    app_slug = models.CharField(max_length=40)
    process_type = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["app_id", "at"], name="containerevent_app_at")]

    def __str__(self) -> str:
        return f"{self.tenant_slug}/{self.app_slug} {self.kind} {self.at:%Y-%m-%d %H:%M:%S}"


class Usage(models.Model):
    """What one process type of one app of a tenant used in one month, for billing; outlives the app.

    The app is kept by slug (and by a foreign key that is cleared when the app is deleted), so a month's bill
    still names it.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    app = models.ForeignKey("deployments.App", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    app_slug = models.CharField(max_length=40)
    process_type = models.CharField(max_length=30, help_text="The process type, or `build` for the app's builds.")
    month = models.DateField(help_text="First day of the month (UTC).")
    container_seconds = models.FloatField(default=0.0)
    memory_gb_seconds = models.FloatField(default=0.0, help_text="Memory limit in GB times seconds run.")
    cpu_seconds = models.FloatField(default=0.0)
    build_seconds = models.FloatField(default=0.0)
    egress_bytes = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "app_slug", "process_type", "month"], name="usage_unique_month")
        ]
        ordering = ["month", "app_slug", "process_type"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.app_slug} {self.process_type} {self.month:%Y-%m}"


class UsageMark(models.Model):
    """How far build minutes have been counted into Usage: builds finished after `builds_until` are not yet."""

    builds_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"builds counted until {self.builds_until:%Y-%m-%d %H:%M:%S}"
