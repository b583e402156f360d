"""Writes of the metrics store: record what the sampler read, fold old samples into coarser rows, apply retention.

The store is the ORM (deployments.models.metrics); a time-series database could take its place behind these three
functions and deployments.selectors.metrics (see docs/operations.md).
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, FloatField, Max, Min, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from deployments.models import ContainerEvent, MetricSample, Resolution
from deployments.services.usage import usage_accrue

logger = logging.getLogger(__name__)

GROUP_FIELDS = ("host", "container", "tenant_id", "tenant_slug", "app_id", "app_slug", "process_type", "index")
# Averaged over the raw samples a row stands for (weighted by `count`).
MEAN_FIELDS = ("cpu_percent", "memory_bytes")
SUM_FIELDS = ("count", "seconds", "cpu_seconds", "rx_bytes", "tx_bytes", "read_bytes", "write_bytes")
MAX_FIELDS = ("memory_max_bytes", "memory_limit_bytes", "cpu_limit", "pids", "containers")
# How much of the past one folding transaction takes at most: a store that was not downsampled for weeks is
# caught up in steps, never in one huge transaction.
FOLD_WINDOW = dt.timedelta(hours=6)


def metrics_record(*, samples: list[MetricSample], events: list[ContainerEvent] = ()) -> None:
    """Store one round of samples (and the OOM kills and restarts seen since the last) and add them to the usage."""
    with transaction.atomic():
        MetricSample.objects.bulk_create(samples)
        if events:
            ContainerEvent.objects.bulk_create(events)
        usage_accrue(samples=[sample for sample in samples if sample.app_id is not None])


def _floor(moment: dt.datetime, kind: str) -> dt.datetime:
    moment = moment.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return moment.replace(minute=0) if kind == "hour" else moment


def _fold(source: str, target: str, *, before: dt.datetime) -> int:
    """Fold the `source` rows older than `before` (a bucket boundary) into `target` buckets; return rows removed.

    One downsampler runs at a time (the periodic loop); the sampler only writes rows newer than `before`.
    """
    kind = "minute" if target == Resolution.MINUTE else "hour"
    removed = 0
    while True:
        with transaction.atomic():
            rows = MetricSample.objects.filter(resolution=source, at__lt=before)
            first = rows.aggregate(first=Min("at"))["first"]
            if first is None:
                return removed
            # Windows end on a bucket boundary, so no bucket is split between two of them.
            window = rows.filter(at__lt=min(before, _floor(first + FOLD_WINDOW, kind)))
            buckets = (
                window.annotate(bucket=Trunc("at", kind, tzinfo=dt.UTC))
                .values("bucket", *GROUP_FIELDS)
                .annotate(
                    **{f"sum_{name}": Sum(name) for name in SUM_FIELDS},
                    **{f"max_{name}": Max(name) for name in MAX_FIELDS},
                    **{
                        f"weighted_{name}": Sum(F(name) * F("count"), output_field=FloatField()) for name in MEAN_FIELDS
                    },
                )
                .order_by()
            )
            folded = []
            for bucket in buckets:
                count = bucket["sum_count"] or 1
                folded.append(
                    MetricSample(
                        resolution=target,
                        at=bucket["bucket"],
                        **{name: bucket[name] for name in GROUP_FIELDS},
                        **{name: bucket[f"sum_{name}"] for name in SUM_FIELDS},
                        **{name: bucket[f"max_{name}"] for name in MAX_FIELDS},
                        cpu_percent=bucket["weighted_cpu_percent"] / count,
                        memory_bytes=round(bucket["weighted_memory_bytes"] / count),
                    )
                )
            removed += window.delete()[0]
            MetricSample.objects.bulk_create(folded, batch_size=2000)


def metrics_downsample(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Fold raw samples past their retention into minutes, minutes into hours; drop hours past theirs.

    Buckets are cut on their boundaries, so a minute or an hour is folded once, whole; the rows left per container
    stay under raw retention / interval + minute retention / 60 s + hour retention / 3600 s.
    """
    now = now or timezone.now()
    raw_before = _floor(now - dt.timedelta(hours=settings.BERTH_METRICS_RAW_HOURS), "minute")
    minute_before = _floor(now - dt.timedelta(days=settings.BERTH_METRICS_MINUTE_DAYS), "hour")
    hour_before = now - dt.timedelta(days=settings.BERTH_METRICS_HOUR_DAYS)
    result = {
        "raw": _fold(Resolution.RAW, Resolution.MINUTE, before=raw_before),
        "minute": _fold(Resolution.MINUTE, Resolution.HOUR, before=minute_before),
    }
    result["hour"] = MetricSample.objects.filter(resolution=Resolution.HOUR, at__lt=hour_before).delete()[0]
    result["events"] = ContainerEvent.objects.filter(at__lt=hour_before).delete()[0]
    return result
