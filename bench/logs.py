"""Benchmark: container stdout -> collector -> sink -> channel layer -> daphne -> WebSocket client.

Runs the production shape on this machine: a real dockerd, `manage.py collectlogs` and daphne as separate processes,
Redis as the channel layer, the database sink (PostgreSQL or whatever DATABASE_URL names). The limit, measured in the
same run on the same container, is `docker logs -f --timestamps`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/logs.py [--lines 50000] [--steady-seconds 15]

1. Throughput: a worker prints --lines numbered lines as fast as it can; lines/s from the container's start to the
   last line received, for the WebSocket client and for `docker logs -f`.
2. Latency at a steady ~1,000 lines/s: for every line, receive time minus the engine's timestamp of the line; p50
   and p99 for both readers.
Targets: throughput at least half the limit's, p99 under 250 ms.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL  # noqa: E402

STEADY_SCRIPT = (
    'i=0; while [ $i -lt {total} ]; do j=0; while [ $j -lt 20 ]; do i=$((i+1)); echo "line $i"; j=$((j+1)); done; '
    "usleep 17000; done; sleep 3600"
)


def parse_ts(text: str) -> float:
    from deployments.logs.records import parse_timestamp

    return parse_timestamp(text) / 1e9


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class DockerLogsReader(threading.Thread):
    """`docker logs -f --timestamps`: the limit."""

    def __init__(self, container_id: str, total: int):
        super().__init__(daemon=True)
        self.container_id, self.total = container_id, total
        self.latencies: list[float] = []
        self.count = 0
        self.done_at = 0.0

    def run(self):
        process = subprocess.Popen(
            ["docker", "logs", "-f", "--timestamps", self.container_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for raw in process.stdout:
            now = time.time()
            stamp, _, text = raw.rstrip("\n").partition(" ")
            if not text.startswith("line "):
                continue
            self.count += 1
            self.latencies.append(now - parse_ts(stamp))
            if self.count >= self.total:
                self.done_at = now
                break
        process.kill()
        process.wait()


async def websocket_reader(url: str, token: str, origin: str, total: int, ready: asyncio.Event) -> dict:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    count = 0
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, origin=origin) as ws:
        json.loads(await ws.recv())  # status: subscribed
        ready.set()
        while count < total:
            message = json.loads(await asyncio.wait_for(ws.recv(), 120))
            now = time.time()
            for line in message.get("lines", []):
                if line["stream"] == "stdout" and line["line"].startswith("line "):
                    count += 1
                    latencies.append(now - parse_ts(line["timestamp"]))
    return {"count": count, "done_at": time.time(), "latencies": latencies}


def run_case(daphne_port, client, image, tenant, app, token, total, command=None) -> dict:
    from deployments.tests.logs.docker_helpers import TEST_LABEL

    url = f"ws://127.0.0.1:{daphne_port}/ws/tenants/{tenant}/apps/{app}/logs/?tail=0"
    origin = f"http://127.0.0.1:{daphne_port}"

    async def main():
        ready = asyncio.Event()
        reader = asyncio.create_task(websocket_reader(url, token, origin, total, ready))
        await asyncio.wait([reader, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            reader.result()
        container = await asyncio.to_thread(
            client.containers.create,
            image,
            name=f"berth-bench-logs-{uuid.uuid4().hex[:8]}",
            environment={"LINES_COUNT": str(total), "LINES_INTERVAL": "0"},
            entrypoint=["/bin/sh", "-c", command] if command else None,
            labels={
                TENANT_LABEL: tenant,
                APP_LABEL: app,
                RELEASE_LABEL: "1",
                PROCESS_LABEL: "worker",
                INDEX_LABEL: "1",
                TEST_LABEL: "bench",
            },
            log_config={"type": "local"},
        )
        try:
            started = time.time()
            await asyncio.to_thread(container.start)
            limit = DockerLogsReader(container.id, total)
            limit.start()
            result = await reader
            await asyncio.to_thread(limit.join, 120)
        finally:
            await asyncio.to_thread(container.remove, force=True)
        return started, result, limit

    started, result, limit = asyncio.run(main())
    return {
        "ws": {
            "lines": result["count"],
            "lines_per_s": result["count"] / (result["done_at"] - started),
            "p50_ms": percentile(result["latencies"], 0.5) * 1000,
            "p99_ms": percentile(result["latencies"], 0.99) * 1000,
        },
        "docker_logs": {
            "lines": limit.count,
            "lines_per_s": limit.count / ((limit.done_at or time.time()) - started),
            "p50_ms": percentile(limit.latencies, 0.5) * 1000,
            "p99_ms": percentile(limit.latencies, 0.99) * 1000,
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--steady-seconds", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL and REDIS_URL: the collector and daphne run as separate processes.")

    import django

    django.setup()
    import docker
    from django.core.management import call_command

    from deployments.models import App
    from deployments.tests.logs.server import Daphne
    from tenants.models import Membership, Role, Tenant
    from tenants.services import token_create, user_get_or_create

    call_command("migrate", verbosity=0)
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    tenant = Tenant.objects.create(slug=slug, name="Bench")
    App.objects.create(tenant=tenant, slug="bench")
    user = user_get_or_create(username=f"{slug}-user")
    Membership.objects.create(tenant=tenant, user=user, role=Role.VIEWER)
    _, token = token_create(user=user, scopes=["read"], tenant=tenant)

    client = docker.from_env()
    from samples import build_context

    image = "berth-test/worker:latest"
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        import tempfile

        client.images.build(path=str(build_context("worker", Path(tempfile.mkdtemp()))), tag=image, rm=True)

    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    daphne = Daphne()
    port = daphne.port
    collector = subprocess.Popen(
        [sys.executable, "manage.py", "collectlogs", "--host", "local", "--prune-every", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        # The collector is following once it has listed the engine's containers; a second is plenty.
        time.sleep(2)
        burst = run_case(port, client, image, slug, "bench", token, args.lines)
        steady_total = args.steady_seconds * 1000
        steady = run_case(
            port,
            client,
            image,
            slug,
            "bench",
            token,
            steady_total,
            command=STEADY_SCRIPT.format(total=steady_total),
        )
    finally:
        collector.terminate()
        collector.wait(10)
        daphne.close()
        tenant.delete()

    ratio = burst["ws"]["lines_per_s"] / burst["docker_logs"]["lines_per_s"]
    print(f"Throughput, {args.lines} lines as fast as the container prints them:")
    print(f"  WebSocket client     {burst['ws']['lines_per_s']:10.0f} lines/s  ({burst['ws']['lines']} lines)")
    print(f"  docker logs -f       {burst['docker_logs']['lines_per_s']:10.0f} lines/s  (limit)")
    print(f"  ratio                {ratio:10.2f}        (target >= 0.50)")
    print(f"Latency at ~1,000 lines/s for {args.steady_seconds} s, engine timestamp to receipt:")
    for name in ("ws", "docker_logs"):
        label = "WebSocket client" if name == "ws" else "docker logs -f"
        print(f"  {label:20} p50 {steady[name]['p50_ms']:7.1f} ms   p99 {steady[name]['p99_ms']:7.1f} ms")
    print("  target: WebSocket p99 < 250 ms")
    print(json.dumps({"burst": burst, "steady": steady}))


if __name__ == "__main__":
    main()
