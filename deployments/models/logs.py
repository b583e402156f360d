"""Where a tenant's logs go, the lines the database sink keeps, and the collector's bookkeeping."""

from django.contrib.postgres.indexes import GinIndex
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
    # Empty for OpenSearch: the platform's cluster (settings.BERTH_OPENSEARCH_URL).
    url = models.CharField(max_length=300, blank=True)
    index_prefix = models.CharField(max_length=100, blank=True)
    credentials = models.TextField(blank=True, help_text="Encrypted with deployments.crypto.")
    retention_days = models.PositiveIntegerField(default=7)

    def __str__(self) -> str:
        return f"{self.tenant} -> {self.kind}"


class LogLine(models.Model):
    """One line a container printed, as kept by the database sink.

    `cursor` orders the lines of an app the same way in every sink: the engine's timestamp in nanoseconds, the
    container, the stream and the rank of the line among those with the same timestamp.
    """

    # No database constraint: the collector COPYs thousands of lines a second and checking two foreign keys per line
    # at commit was half the sink's time (bench/README.md). Deleting a tenant or an app still deletes its lines
    # (on_delete runs in Django), and only the collector writes lines, for apps it has just resolved.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="log_lines", db_constraint=False)
    cursor = models.CharField(max_length=48)
    release = models.PositiveIntegerField(null=True, blank=True)
    process = models.CharField(max_length=30, blank=True)
    index = models.PositiveIntegerField(null=True, blank=True)
    container = models.CharField(max_length=64, blank=True)
    stream = models.CharField(max_length=8, default="stdout")
    timestamp = models.DateTimeField(default=timezone.now)
    line = models.TextField()

    class Meta:
        ordering = ["cursor"]
        constraints = [models.UniqueConstraint(fields=["app", "cursor"], name="logline_unique_cursor_per_app")]
        # No trigram index here: the collector's COPY would build ~40 trigram entries a line (a fifth of its rate,
        # bench/README.md). LogSearch holds the indexed copy of the text, filled behind the collector.
        indexes = [models.Index(fields=["app", "timestamp"], name="logline_app_timestamp")]

    def __str__(self) -> str:
        return self.line[:80]


class LogSearch(models.Model):
    """The text of a stored line, for `?q=` on PostgreSQL: the trigram index lives here, off the collector's path.

    The indexer (logs/search.py) copies lines into it in id order behind the collector; every line whose id is at or
    below LogSearchWatermark.watermark has its row, and no row is above it. A search reads the rows through the
    trigram index and the lines above the watermark (the tail) straight from LogLine. Empty on SQLite.
    """

    # The LogLine's id, not a relation: a relation would make Django load every line it deletes (retention, app
    # deletion) to find its rows. Retention deletes the rows with the lines; an app's go with the app.
    line_id = models.BigIntegerField(primary_key=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    line = models.TextField()

    class Meta:
        indexes = [
            # Absent on SQLite (portal/migration_operations.py), where a search reads LogLine alone.
            GinIndex(fields=["line"], opclasses=["gin_trgm_ops"], name="logsearch_line_trgm"),
        ]

    def __str__(self) -> str:
        return self.line[:80]


class LogSearchWatermark(models.Model):
    """How far the indexer has copied lines into LogSearch (one row).

    `watermark`: every line with an id at or below it is indexed. `horizon` and `horizon_writers`: the largest line
    id seen by the pass before, and the transactions then writing to LogLine (virtual ids, comma-separated); once they
    have all ended, no line at or below `horizon` can still appear, and the watermark may move up to it (logs/search.py
    says why).
    """

    watermark = models.BigIntegerField(default=0)
    horizon = models.BigIntegerField(null=True, blank=True)
    horizon_writers = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"indexed up to line {self.watermark}"


class LogCheckpoint(models.Model):
    """How far the collector has stored one stream of one container: resume with since= and skip what it stored.

    Lines with the same engine timestamp are told apart by their rank, so `count_at_timestamp` lines at
    `timestamp_ns` are already stored and the next one at that instant is new.
    """

    host = models.CharField(max_length=40)
    container = models.CharField(max_length=64)
    stream = models.CharField(max_length=8)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    timestamp_ns = models.BigIntegerField(default=0)
    count_at_timestamp = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "container", "stream"], name="logcheckpoint_unique_stream")
        ]

    def __str__(self) -> str:
        return f"{self.host}/{self.container[:12]}/{self.stream} @ {self.timestamp_ns}+{self.count_at_timestamp}"


class LogDrop(models.Model):
    """Lines of an app the collector had to drop because its sink stayed unreachable past the buffer's bound."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="log_drops")
    dropped = models.BigIntegerField(default=0)
    last_dropped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.app}: {self.dropped} dropped"
