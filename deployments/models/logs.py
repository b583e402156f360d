"""Where a tenant's logs go, and the lines the database sink keeps."""

from django.db import models
from django.utils import timezone

from deployments.models.apps import App
from tenants.models import Tenant


class SinkKind(models.TextChoices):
    DATABASE = "database", "Database"
    OPENSEARCH = "opensearch", "OpenSearch / Elasticsearch"


class LogSink(models.Model):
    """A tenant's log sink: the database (default) or its own OpenSearch/Elasticsearch."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="log_sink")
    kind = models.CharField(max_length=16, choices=SinkKind.choices, default=SinkKind.DATABASE)
    url = models.CharField(max_length=300, blank=True)
    index_prefix = models.CharField(max_length=100, blank=True)
    credentials = models.TextField(blank=True, help_text="Encrypted with deployments.crypto.")
    retention_days = models.PositiveIntegerField(default=7)

    def __str__(self) -> str:
        return f"{self.tenant} -> {self.kind}"


class LogLine(models.Model):
    """One line a container printed, as kept by the database sink."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="log_lines")
    release = models.PositiveIntegerField(null=True, blank=True)
    process = models.CharField(max_length=30, blank=True)
    container = models.CharField(max_length=64, blank=True)
    stream = models.CharField(max_length=8, default="stdout")
    timestamp = models.DateTimeField(default=timezone.now)
    line = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["app", "id"], name="logline_app_id")]

    def __str__(self) -> str:
        return self.line[:80]
