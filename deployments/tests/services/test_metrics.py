"""Downsampling of the metrics store: bounded rows per resolution, and coarse rows that average what they replaced."""

import datetime as dt
from collections import defaultdict

import pytest

from deployments.models import ContainerEvent, ContainerEventKind, MetricSample, Resolution
from deployments.services.metrics import metrics_downsample

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
CONTAINERS = 50
INTERVAL = 1800  # seconds between two raw samples of the simulation (two per hour bucket)
DAYS = 14


def _raw(container: int, k: int) -> MetricSample:
    return MetricSample(
        resolution=Resolution.RAW,
        at=START + dt.timedelta(seconds=(k + 0.5) * INTERVAL),
        host="h1",
        container=f"c{container:03d}",
        tenant_id=1,
        tenant_slug="acme",
        app_id=container % 5,
        app_slug=f"app{container % 5}",
        process_type="web",
        index=container,
        seconds=INTERVAL,
        cpu_percent=float((k * 37 + container * 11) % 100),
        cpu_limit=0.5,
        cpu_seconds=float((k * 37 + container * 11) % 100) / 100 * INTERVAL,
        memory_bytes=((k * 13 + container * 7) % 1000) * MIB,
        memory_max_bytes=((k * 13 + container * 7) % 1000) * MIB,
        memory_limit_bytes=1024 * MIB,
        tx_bytes=k + container,
        pids=k % 7 + 1,
    )


def test_fourteen_days_of_fifty_containers_stay_within_the_bound_and_keep_the_hourly_averages(settings):
    settings.BERTH_METRICS_RAW_HOURS = 6
    settings.BERTH_METRICS_MINUTE_DAYS = 7
    settings.BERTH_METRICS_HOUR_DAYS = 396
    per_day = 24 * 3600 // INTERVAL
    expected_hours: dict[tuple[str, dt.datetime], list[MetricSample]] = defaultdict(list)

    # given 14 days of raw samples, written a day at a time with a downsampling pass after each day
    for day in range(DAYS):
        rows = [_raw(c, k) for c in range(CONTAINERS) for k in range(day * per_day, (day + 1) * per_day)]
        for row in rows:
            expected_hours[(row.container, row.at.replace(minute=0, second=0, microsecond=0))].append(row)
        MetricSample.objects.bulk_create(rows, batch_size=5000)
        metrics_downsample(now=START + dt.timedelta(days=day + 1))
    now = START + dt.timedelta(days=DAYS)

    # then each resolution holds exactly its retention's worth of rows, under the bound of the settings
    counts = {
        resolution: MetricSample.objects.filter(resolution=resolution).count() for resolution in Resolution.values
    }
    raw_per_container = 6 * 3600 // INTERVAL
    minute_per_container = (7 * 24 * 3600 - 6 * 3600) // INTERVAL  # one raw sample per minute bucket
    hour_per_container = (DAYS - 7) * 24
    assert counts == {
        "raw": CONTAINERS * raw_per_container,
        "minute": CONTAINERS * minute_per_container,
        "hour": CONTAINERS * hour_per_container,
    }
    assert counts["raw"] <= CONTAINERS * 6 * 3600 / INTERVAL
    assert counts["minute"] <= CONTAINERS * 7 * 24 * 60
    assert counts["hour"] <= CONTAINERS * 396 * 24
    assert not MetricSample.objects.filter(resolution=Resolution.RAW, at__lt=now - dt.timedelta(hours=6)).exists()

    # and every hour row averages (and sums) exactly the raw samples it replaced
    hour_rows = list(MetricSample.objects.filter(resolution=Resolution.HOUR))
    assert len(hour_rows) == CONTAINERS * hour_per_container
    for row in hour_rows:
        raw = expected_hours[(row.container, row.at)]
        assert row.count == len(raw) == 3600 // INTERVAL
        assert row.cpu_percent == pytest.approx(sum(r.cpu_percent for r in raw) / len(raw), rel=1e-9)
        assert row.memory_bytes == round(sum(r.memory_bytes for r in raw) / len(raw))
        assert row.memory_max_bytes == max(r.memory_bytes for r in raw)
        assert row.cpu_seconds == pytest.approx(sum(r.cpu_seconds for r in raw), rel=1e-9)
        assert row.tx_bytes == sum(r.tx_bytes for r in raw)
        assert row.seconds == len(raw) * INTERVAL
        assert row.pids == max(r.pids for r in raw)
        assert (row.app_slug, row.process_type, row.cpu_limit) == (raw[0].app_slug, "web", 0.5)


def test_hour_rows_and_events_past_their_retention_are_deleted(settings):
    settings.BERTH_METRICS_HOUR_DAYS = 30
    now = START + dt.timedelta(days=60)
    old = MetricSample.objects.create(resolution=Resolution.HOUR, at=now - dt.timedelta(days=31), host="h1")
    kept = MetricSample.objects.create(resolution=Resolution.HOUR, at=now - dt.timedelta(days=29), host="h1")
    event = dict(host="h1", container="c", tenant_id=1, tenant_slug="acme", app_id=1, app_slug="web")
    ContainerEvent.objects.create(kind=ContainerEventKind.OOM, at=now - dt.timedelta(days=31), **event)

    result = metrics_downsample(now=now)

    assert result == {"raw": 0, "minute": 0, "hour": 1, "events": 1}
    assert list(MetricSample.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not MetricSample.objects.filter(pk=old.pk).exists()
    assert ContainerEvent.objects.count() == 0
