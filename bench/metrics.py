"""Benchmark: what the metrics sampler costs per 100 containers, and how fast the store grows, on the real dockerd.

Starts N idle sample containers (busybox `sleep`) with Berth's labels for one app, runs the sampler of
deployments/metrics/ in this process at the configured interval for a measured window, with the real store (the
rounds are written to the database of DATABASE_URL), and reports:

- sampler CPU: this process's CPU time (every thread: the N stream readers, the recorder, the database writes) over
  the window, as % of one core, and per 100 containers;
- dockerd CPU over the same window (the engine computes the stats it streams; on a shared machine this figure also
  holds other people's work, so it is shown, not subtracted);
- `docker stats --no-stream` over the same containers, in the same run: its wall time and CPU per read, and what
  reading that way every interval would cost in % of one core;
- store growth: rows per round and bytes per row (PostgreSQL's relation size), so rows and bytes a day of raw
  samples, and the bounded steady state after downsampling.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench BERTH_DATA_DIR=/tmp/berth-bench \\
        .venv/bin/python bench/metrics.py [--containers 100] [--window 60] [--interval 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _dockerd_pid() -> int | None:
    found = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    # The main engine's daemon is the oldest one (the extra hosts' daemons start later).
    return min((int(pid) for pid in found), default=None)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _docker_stats_once(ids: list[str]) -> tuple[float, float]:
    """Run `docker stats --no-stream` on the containers; return (wall seconds, CPU seconds of the client)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(["docker", "stats", "--no-stream", *ids], check=True, capture_output=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0, help="Seconds measured after the warm-up")
    parser.add_argument("--interval", type=float, default=10.0, help="Seconds between two recorded samples")
    parser.add_argument("--docker-stats-runs", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()

    import docker
    from django.core.management import call_command
    from django.db import connection

    from deployments.engine.client import LOCAL_ENGINE
    from deployments.metrics.sampler import Sampler
    from deployments.models import MetricSample
    from deployments.tests.factories import AppFactory, TenantFactory
    from samples import build_context

    call_command("migrate", verbosity=0)
    client = docker.DockerClient(base_url=LOCAL_ENGINE.url, timeout=300)
    context = build_context("worker", Path(f"/tmp/berth-bench-metrics-{uuid.uuid4().hex[:6]}"))
    image = client.images.build(path=str(context), tag="berth-test/worker:latest", rm=True)[0].tags[0]
    tenant = TenantFactory(slug=f"bm-{uuid.uuid4().hex[:8]}")
    app = AppFactory(tenant=tenant, slug="bench")
    ids: list[str] = []
    sampler = None
    try:
        for index in range(args.containers):
            container = client.containers.run(
                image,
                ["sleep", "86400"],
                name=f"berth-bench-metrics-{uuid.uuid4().hex[:8]}",
                detach=True,
                mem_limit="64m",
                labels={
                    "berth.tenant": tenant.slug,
                    "berth.app": app.slug,
                    "berth.release": "1",
                    "berth.process": "worker",
                    "berth.index": str(index + 1),
                },
            )
            ids.append(container.id)
        MetricSample.objects.filter(app_id=app.pk).delete()
        sampler = Sampler(LOCAL_ENGINE, interval=args.interval).start()
        deadline = time.monotonic() + 120
        while len(set(sampler.following()) & set(ids)) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
        followed = len(set(sampler.following()) & set(ids))
        # Warm-up: every stream delivers its first documents, one round sets the baselines.
        time.sleep(args.interval + 3)

        dockerd = _dockerd_pid()
        rows_before = MetricSample.objects.filter(app_id=app.pk).count()
        rounds_before = sampler.rounds
        cpu_before, dockerd_before, started = _self_cpu(), dockerd and _proc_cpu(dockerd), time.monotonic()
        time.sleep(args.window)
        cpu_after, dockerd_after, ended = _self_cpu(), dockerd and _proc_cpu(dockerd), time.monotonic()
        rounds = sampler.rounds - rounds_before
        rows = MetricSample.objects.filter(app_id=app.pk).count() - rows_before
        elapsed = ended - started

        runs = [_docker_stats_once(ids) for _ in range(args.docker_stats_runs)]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_total_relation_size('deployments_metricsample'), count(*) FROM deployments_metricsample"
            )
            table_bytes, table_rows = cursor.fetchone()
    finally:
        if sampler is not None:
            sampler.stop()
        for container_id in ids:
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(container_id).remove(force=True)

    sampler_percent = (cpu_after - cpu_before) / elapsed * 100
    per_100 = sampler_percent / max(followed, 1) * 100
    stats_wall = sum(wall for wall, _ in runs) / len(runs)
    stats_cpu = sum(cpu for _, cpu in runs) / len(runs)
    bytes_per_row = table_bytes / max(table_rows, 1)
    rows_per_round = rows / max(rounds, 1)
    per_day = rows_per_round * 86400 / args.interval
    result = {
        "containers": len(ids),
        "followed": followed,
        "interval_s": args.interval,
        "window_s": round(elapsed, 1),
        "rounds": rounds,
        "sampler_cpu_percent_of_one_core": round(sampler_percent, 3),
        "sampler_cpu_percent_per_100_containers": round(per_100, 3),
        "dockerd_cpu_percent_during_window": round((dockerd_after - dockerd_before) / elapsed * 100, 1)
        if dockerd
        else None,
        "docker_stats_no_stream_wall_s": round(stats_wall, 2),
        "docker_stats_no_stream_client_cpu_s": round(stats_cpu, 3),
        "docker_stats_every_interval_cpu_percent": round(stats_cpu / args.interval * 100, 3),
        "rows_per_round": round(rows_per_round, 1),
        "bytes_per_row": round(bytes_per_row),
        "raw_rows_per_day": round(per_day),
        "raw_mb_per_day": round(per_day * bytes_per_row / 1e6, 1),
        "steady_state_rows_per_container": round(6 * 3600 / args.interval + 7 * 1440 + 396 * 24),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
