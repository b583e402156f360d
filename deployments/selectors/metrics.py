"""Reads of the metrics store: an app's series per process and container, a host's series, a tenant's usage."""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db.models import Count, Max, Q
from django_tasks_db.models import DBTaskResult

from deployments.models import App, Build, ContainerEvent, Deployment, LogCheckpoint, LogDrop, MetricSample, Usage
from portal.errors import Invalid, NotFound
from tenants.models import Tenant

MAX_POINTS = 2000
# The points a series gets when the caller names no step.
DEFAULT_POINTS = 360
SERIES_FIELDS = (
    "at",
    "container",
    "process_type",
    "index",
    "count",
    "seconds",
    "cpu_percent",
    "cpu_limit",
    "cpu_seconds",
    "memory_bytes",
    "memory_max_bytes",
    "memory_limit_bytes",
    "rx_bytes",
    "tx_bytes",
    "read_bytes",
    "write_bytes",
    "pids",
    "containers",
)


def metrics_window(
    *, since: dt.datetime | None, until: dt.datetime | None, step: int | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime, int]:
    """Resolve a query's range and step (seconds): the last hour by default, about DEFAULT_POINTS points."""
    until = until or now
    since = since or until - dt.timedelta(hours=1)
    if since >= until:
        raise Invalid("`since` must be before `until`.", code="invalid_range")
    span = (until - since).total_seconds()
    if step is None:
        step = max(int(settings.BERTH_METRICS_INTERVAL), int(span // DEFAULT_POINTS) or 1)
    if span / step > MAX_POINTS:
        raise Invalid(
            f"A step of {step}s gives more than {MAX_POINTS} points over this range; use a larger step.",
            code="too_many_points",
            fields={"step": [f"at least {int(span // MAX_POINTS) + 1}"]},
        )
    return since, until, step


def _bucketed(rows, *, since: dt.datetime, step: int) -> list[dict]:
    """Fold rows into points of `step` seconds: averages weighted by count, totals summed, maxima kept."""
    points: dict[int, dict] = {}
    origin = since.timestamp()
    for row in rows:
        slot = int((row["at"].timestamp() - origin) // step)
        point = points.get(slot)
        if point is None:
            point = points[slot] = defaultdict(float)
        count = row["count"] or 1
        point["count"] += count
        point["cpu_weighted"] += row["cpu_percent"] * count
        point["memory_weighted"] += row["memory_bytes"] * count
        for name in ("seconds", "cpu_seconds", "rx_bytes", "tx_bytes", "read_bytes", "write_bytes"):
            point[name] += row[name]
        for name in ("memory_max_bytes", "memory_limit_bytes", "cpu_limit", "pids", "containers"):
            point[name] = max(point[name], row[name])
    result = []
    for slot in sorted(points):
        point = points[slot]
        result.append(
            {
                "t": (since + dt.timedelta(seconds=slot * step)).isoformat(),
                "cpu_percent": round(point["cpu_weighted"] / point["count"], 3),
                "cpu_limit": point["cpu_limit"],
                "cpu_seconds": round(point["cpu_seconds"], 3),
                "memory_bytes": round(point["memory_weighted"] / point["count"]),
                "memory_max_bytes": int(point["memory_max_bytes"]),
                "memory_limit_bytes": int(point["memory_limit_bytes"]),
                "rx_bytes": int(point["rx_bytes"]),
                "tx_bytes": int(point["tx_bytes"]),
                "read_bytes": int(point["read_bytes"]),
                "write_bytes": int(point["write_bytes"]),
                "pids": int(point["pids"]),
                **({"containers": int(point["containers"])} if point["containers"] else {}),
            }
        )
    return result


def _process_points(rows, *, since: dt.datetime, step: int) -> list[dict]:
    """A process type's series: per point, the mean of its containers (so the per-container limit applies)."""
    per_container = defaultdict(list)
    for row in rows:
        per_container[row["container"]].append(row)
    slots: dict[str, list[dict]] = defaultdict(list)
    for container_rows in per_container.values():
        for point in _bucketed(container_rows, since=since, step=step):
            slots[point["t"]].append(point)
    result = []
    for t in sorted(slots):
        points = slots[t]
        n = len(points)
        result.append(
            {
                "t": t,
                "containers": n,
                "cpu_percent": round(sum(p["cpu_percent"] for p in points) / n, 3),
                "cpu_limit": max(p["cpu_limit"] for p in points),
                "memory_bytes": round(sum(p["memory_bytes"] for p in points) / n),
                "memory_max_bytes": max(p["memory_max_bytes"] for p in points),
                "memory_limit_bytes": max(p["memory_limit_bytes"] for p in points),
                "rx_bytes": sum(p["rx_bytes"] for p in points),
                "tx_bytes": sum(p["tx_bytes"] for p in points),
            }
        )
    return result


def app_events_count(*, app: App, since: dt.datetime, until: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """Return {process_type: {"oom": n, "restart": n}} of the app's containers in the range."""
    events = ContainerEvent.objects.filter(app_id=app.pk, tenant_id=app.tenant_id, at__gte=since)
    if until is not None:
        events = events.filter(at__lte=until)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"oom": 0, "restart": 0})
    for row in events.values("process_type", "kind").annotate(n=Count("pk")).order_by():
        counts[row["process_type"]][row["kind"]] = row["n"]
    return dict(counts)


def app_metrics(*, tenant: Tenant, app: App, since: dt.datetime, until: dt.datetime, step: int) -> dict:
    """Return the app's series per process type (mean of its containers) and per container, and its events."""
    if app.tenant_id != tenant.pk:
        raise NotFound(f"No app {app.slug!r} in this tenant.")
    rows = (
        MetricSample.objects.filter(app_id=app.pk, tenant_id=tenant.pk, at__gte=since, at__lt=until)
        .exclude(container="")
        .order_by("at")
        .values(*SERIES_FIELDS)
    )
    by_process: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_process[row["process_type"]].append(row)
    events = app_events_count(app=app, since=since, until=until)
    processes = {}
    for process_type, process_rows in sorted(by_process.items()):
        per_container = defaultdict(list)
        for row in process_rows:
            per_container[row["container"]].append(row)
        processes[process_type] = {
            "points": _process_points(process_rows, since=since, step=step),
            "containers": {
                container: {
                    "index": container_rows[-1]["index"],
                    "points": _bucketed(container_rows, since=since, step=step),
                }
                for container, container_rows in per_container.items()
            },
            "events": events.get(process_type, {"oom": 0, "restart": 0}),
        }
    for process_type, counts in events.items():
        processes.setdefault(process_type, {"points": [], "containers": {}, "events": counts})
    limits = {
        formation.process_type: {"memory_bytes": formation.memory_mb * 1024 * 1024, "cpu": float(formation.cpu)}
        for formation in app.formation.all()
    }
    for process_type, process in processes.items():
        process["limit"] = limits.get(process_type)
    return {"since": since.isoformat(), "until": until.isoformat(), "step": step, "processes": processes}


def host_metrics(*, host: str, since: dt.datetime, until: dt.datetime, step: int) -> dict:
    """Return the series of a host's totals (the sum of its containers, against the machine's CPUs and memory)."""
    rows = (
        MetricSample.objects.filter(host=host, container="", at__gte=since, at__lt=until)
        .order_by("at")
        .values(*SERIES_FIELDS)
    )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "step": step,
        "points": _bucketed(rows, since=since, step=step),
    }


def latest_samples(*, since: dt.datetime) -> list[dict]:
    """Return the newest raw sample of every container and host seen since `since` (what /metrics shows)."""
    rows = (
        MetricSample.objects.filter(at__gte=since, resolution="raw")
        .order_by("host", "container", "-at")
        .values("host", "container", "tenant_slug", "app_slug", "process_type", "at", *SERIES_FIELDS[5:])
    )
    seen, newest = set(), []
    for row in rows:
        key = (row["host"], row["container"])
        if key not in seen:
            seen.add(key)
            newest.append(row)
    return newest


def usage_month(*, tenant: Tenant, month: dt.date) -> list[dict]:
    """Return the tenant's usage of one month, one row per app and process type (apps deleted since included)."""
    rows = Usage.objects.filter(tenant=tenant, month=month).order_by("app_slug", "process_type")
    return [
        {
            "month": f"{row.month:%Y-%m}",
            "app": row.app_slug,
            "process_type": row.process_type,
            "app_deleted": row.app_id is None,
            "container_hours": round(row.container_seconds / 3600, 6),
            "memory_gb_hours": round(row.memory_gb_seconds / 3600, 6),
            "cpu_seconds": round(row.cpu_seconds, 3),
            "build_minutes": round(row.build_seconds / 60, 3),
            "egress_bytes": row.egress_bytes,
        }
        for row in rows
    ]


def app_badge(*, app: App, since: dt.datetime) -> dict[str, int]:
    """Return how many OOM kills and restarts the app's containers had since `since` (the app page's badge)."""
    counts = ContainerEvent.objects.filter(app_id=app.pk, tenant_id=app.tenant_id, at__gte=since).aggregate(
        oom=Count("pk", filter=Q(kind="oom")), restart=Count("pk", filter=Q(kind="restart"))
    )
    return {"oom": counts["oom"], "restart": counts["restart"]}


DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def _durations(queryset, *, buckets=DURATION_BUCKETS) -> dict:
    """Return a histogram of (finished_at - started_at) in seconds: cumulative bucket counts, sum and count."""
    done = queryset.filter(started_at__isnull=False, finished_at__isnull=False)
    seconds = [(row[1] - row[0]).total_seconds() for row in done.values_list("started_at", "finished_at").iterator()]
    return {
        "buckets": [(bound, sum(1 for value in seconds if value <= bound)) for bound in buckets],
        "count": len(seconds),
        "sum": sum(seconds),
    }


def prometheus_snapshot(*, now: dt.datetime) -> dict:
    """Everything /metrics shows, read in one place: gauges of the newest samples, counters, histograms, lags."""
    recent = now - dt.timedelta(seconds=max(60.0, 3 * settings.BERTH_METRICS_INTERVAL))
    events = (
        ContainerEvent.objects.values("tenant_slug", "app_slug", "process_type", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    sampled = MetricSample.objects.filter(container="").values("host").annotate(last=Max("at")).order_by()
    collected = LogCheckpoint.objects.values("host").annotate(last=Max("updated_at")).order_by()
    return {
        "samples": latest_samples(since=recent),
        "events": list(events),
        "rollouts": _durations(Deployment.objects.all()),
        "builds": _durations(Build.objects.all()),
        "queues": list(
            DBTaskResult.objects.filter(status="READY").values("queue_name").annotate(n=Count("pk")).order_by()
        ),
        "sampler_lag": {row["host"]: (now - row["last"]).total_seconds() for row in sampled},
        "collector_lag": {row["host"]: (now - row["last"]).total_seconds() for row in collected},
        "dropped": list(LogDrop.objects.values("tenant__slug", "app__slug", "dropped").order_by()),
    }
