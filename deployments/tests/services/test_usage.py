"""Usage: sampled containers and finished builds add to their month, once, and stay after the app is deleted."""

import datetime as dt

import pytest

from deployments.models import Usage
from deployments.services.usage import usage_accrue, usage_builds_accrue
from deployments.tests.factories import BuildFactory, MetricSampleFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 23, 59, 55, tzinfo=dt.UTC)


def test_samples_add_time_memory_limit_cpu_and_egress_to_their_month(app):
    samples = [
        MetricSampleFactory.build(app=app, at=NOW, seconds=10, cpu_seconds=2.5, tx_bytes=100),
        MetricSampleFactory.build(app=app, at=NOW, container="c2", seconds=10, cpu_seconds=1.5, tx_bytes=50),
        MetricSampleFactory.build(app=app, at=NOW + dt.timedelta(seconds=10), seconds=10, cpu_seconds=1, tx_bytes=1),
    ]

    usage_accrue(samples=samples)

    rows = list(
        Usage.objects.order_by("month").values(
            "month", "process_type", "container_seconds", "memory_gb_seconds", "cpu_seconds", "egress_bytes"
        )
    )
    assert rows == [
        {
            "month": dt.date(2026, 11, 1),
            "process_type": "web",
            "container_seconds": 20.0,
            "memory_gb_seconds": 5.0,
            "cpu_seconds": 4.0,
            "egress_bytes": 150,
        },
        {
            "month": dt.date(2026, 12, 1),
            "process_type": "web",
            "container_seconds": 10.0,
            "memory_gb_seconds": 2.5,
            "cpu_seconds": 1.0,
            "egress_bytes": 1,
        },
    ]


def test_finished_builds_are_counted_once_and_outlive_their_app(app):
    BuildFactory(app=app, started_at=NOW - dt.timedelta(minutes=3), finished_at=NOW - dt.timedelta(minutes=1))
    BuildFactory(app=app, started_at=NOW - dt.timedelta(minutes=1), finished_at=None)

    assert usage_builds_accrue(now=NOW) == 1
    assert usage_builds_accrue(now=NOW + dt.timedelta(minutes=1)) == 0
    app.delete()

    (row,) = Usage.objects.all()
    assert (row.app_slug, row.process_type, row.build_seconds, row.app_id) == ("web", "build", 120.0, None)
    assert row.month == dt.date(2026, 11, 1)
