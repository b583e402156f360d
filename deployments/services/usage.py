"""Writes of the monthly usage: what the sampled containers ran and the builds took, per tenant, app and process."""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from deployments.models import Build, MetricSample, Usage, UsageMark

GIB = 1024**3
BUILD_PROCESS = "build"


def month_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date().replace(day=1)


def _add(*, tenant_id: int, app_id: int | None, app_slug: str, process_type: str, month: dt.date, **amounts) -> None:
    usage, _ = Usage.objects.get_or_create(
        tenant_id=tenant_id,
        app_slug=app_slug,
        process_type=process_type,
        month=month,
        defaults={"app_id": app_id},
    )
    Usage.objects.filter(pk=usage.pk).update(
        updated_at=timezone.now(), **{name: F(name) + value for name, value in amounts.items()}
    )


def usage_accrue(*, samples: list[MetricSample]) -> None:
    """Add container samples to their month's usage: time run, memory limit x time, CPU time, bytes sent."""
    totals: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sample in samples:
        key = (sample.tenant_id, sample.app_id, sample.app_slug, sample.process_type, month_of(sample.at))
        memory = sample.memory_limit_bytes or sample.memory_bytes
        amounts = totals[key]
        amounts["container_seconds"] += sample.seconds
        amounts["memory_gb_seconds"] += memory / GIB * sample.seconds
        amounts["cpu_seconds"] += sample.cpu_seconds
        amounts["egress_bytes"] += sample.tx_bytes
    with transaction.atomic():
        for (tenant_id, app_id, app_slug, process_type, month), amounts in sorted(
            totals.items(), key=lambda item: tuple(str(part) for part in item[0])
        ):
            amounts["egress_bytes"] = int(amounts["egress_bytes"])
            _add(
                tenant_id=tenant_id,
                app_id=app_id,
                app_slug=app_slug,
                process_type=process_type,
                month=month,
                **amounts,
            )


@transaction.atomic
def usage_builds_accrue(*, now: dt.datetime | None = None) -> int:
    """Add the builds finished since the last call to their month's usage (process type `build`); return how many.

    Builds are counted when they end, so their minutes stay in the usage after the app and its builds are deleted.
    """
    now = now or timezone.now()
    mark = UsageMark.objects.select_for_update().first()
    if mark is None:
        mark = UsageMark.objects.create(builds_until=now - dt.timedelta(days=31))
    builds = Build.objects.filter(
        finished_at__gt=mark.builds_until, finished_at__lte=now, started_at__isnull=False
    ).select_related("app", "app__tenant")
    counted = 0
    for build in builds:
        seconds = max(0.0, (build.finished_at - build.started_at).total_seconds())
        _add(
            tenant_id=build.app.tenant_id,
            app_id=build.app_id,
            app_slug=build.app.slug,
            process_type=BUILD_PROCESS,
            month=month_of(build.finished_at),
            build_seconds=seconds,
        )
        counted += 1
    mark.builds_until = now
    mark.save(update_fields=["builds_until"])
    return counted
