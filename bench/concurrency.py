"""Many apps deployed at once: Berth's workers (1, 2, 4 threads) against the same Docker operations done directly.

    DATABASE_URL=postgres://... BERTH_DATA_DIR=/tmp/berth-bench .venv/bin/python bench/concurrency.py [--apps 50]

For each thread count T, --apps new apps (one web container of the sample httpd each) are queued at once and T worker
threads run their rollouts (deployment_execute, as the task worker does; rollouts of different apps run at the same
time, one app's in turn). Measured: the time until every app serves through the router (HAProxy), and the failed
requests of a loop against apps that already served before (must be 0). The direct side does the same Docker
operations with T threads straight through the SDK (image check, tenant network, create, start, health check, one
router apply for all). Everything created carries a unique tenant label and is removed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker
from django.core.management import call_command
from django.db import connection
from rollout import (  # bench/rollout.py: Django is set up there, on free router ports
    ENGINE,
    berth_release,
    direct_rollout,
    direct_router_beside,
    ensure_image,
    remove_everything,
)

from deployments.models import DeploymentStatus, DockerHost
from deployments.router import HAProxy, Route, router
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import AppFactory, FormationFactory, TenantFactory


class Canary:
    """Requests in a loop through the router to apps that already serve; every failure counts."""

    def __init__(self, port: int, hosts: list[str]):
        self.port, self.hosts = port, hosts
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            host = self.hosts[n % len(self.hosts)]
            n += 1
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Host": host, "Connection": "close"})
                if conn.getresponse().status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
            except (OSError, http.client.HTTPException):
                self.failed += 1
            finally:
                conn.close()

    def __enter__(self) -> Canary:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def berth_round(tenant, apps: int, threads: int, tag: str) -> float:
    """Queue `apps` first rollouts at once and run them on `threads` worker threads; return the seconds to all done."""
    releases = []
    for n in range(apps):
        app = AppFactory(tenant=tenant, slug=f"{tag}-{n}")
        FormationFactory(app=app, process_type="web", quantity=1, memory_mb=64)
        releases.append(berth_release(app, 1, 1))
    started = time.monotonic()
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for release in releases:
        work.put(rollout_enqueue(release_id=release.pk).pk)
    failures = []

    def worker() -> None:
        try:
            while True:
                try:
                    deployment_id = work.get_nowait()
                except queue.Empty:
                    return
                deployment = deployment_execute(deployment_id=deployment_id)
                if deployment.status != DeploymentStatus.SUCCEEDED:
                    failures.append(deployment.error)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} rollouts failed: {failures[:3]}")
    return time.monotonic() - started


def direct_round(client, slug: str, apps: int, threads: int, haproxy: HAProxy) -> tuple[float, list]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as executor:
        made = list(executor.map(lambda n: direct_rollout(client, slug, 1, n, [])[0], range(apps)))
    ports = [c.attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"] for c in made]
    haproxy.apply(
        [
            Route(key=f"{slug}__d{n}", hostnames=(f"d{n}.{slug}.localhost",), upstreams=(f"127.0.0.1:{port}",))
            for n, port in enumerate(ports)
        ]
    )
    return time.monotonic() - started, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--threads", default="1,2,4")
    args = parser.parse_args()
    counts = [int(value) for value in args.threads.split(",")]

    call_command("migrate", verbosity=0)
    client = docker.DockerClient(base_url=ENGINE, timeout=120)
    ensure_image(client)
    slug = f"conc{secrets.token_hex(3)}"
    host_created = not DockerHost.objects.filter(name="local").exists()
    if host_created:
        # Room for every round's containers: each round's apps keep running until the end.
        DockerHost.objects.create(name="local", engine_url=ENGINE, address="127.0.0.1", capacity_containers=10_000)
    tenant = TenantFactory(slug=slug, max_containers=10_000, max_memory_mb=10_000_000)
    berth_router = router()
    direct_router = direct_router_beside(berth_router, slug)
    rows = []
    try:
        berth_round(tenant, 3, 1, "canary")  # the apps that serve before: the loop asks them throughout
        canaries = [f"canary-{n}.{slug}.localhost" for n in range(3)]
        for threads in counts:
            with Canary(berth_router.port, canaries) as canary:
                berth = berth_round(tenant, args.apps, threads, f"t{threads}")
            direct, made = direct_round(client, slug, args.apps, threads, direct_router)
            for container in made:
                container.remove(force=True)
            rows.append((threads, berth, direct, canary.ok, canary.failed))
            print(
                f"threads={threads}  berth {berth:6.1f} s  direct {direct:6.1f} s  ratio {berth / direct:4.2f}  "
                f"canary {canary.ok} ok / {canary.failed} failed",
                flush=True,
            )
    finally:
        remove_everything(client, slug, host_created=host_created, direct_router=direct_router)
    print(f"\n{args.apps} apps of one container each, deployed at once:")
    print(
        "| worker threads | Berth: all serving (s) | direct SDK, same threads (s) | Berth / direct "
        "| canary ok | canary failed |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for threads, berth, direct, ok, failed in rows:
        print(f"| {threads} | {berth:.1f} | {direct:.1f} | {berth / direct:.2f} | {ok} | {failed} |")
    print(
        json.dumps(
            {"concurrency": [dict(zip(("threads", "berth", "direct", "ok", "failed"), r, strict=True)) for r in rows]}
        )
    )


if __name__ == "__main__":
    main()
