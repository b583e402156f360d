"""Benchmark: how long a running build takes to stop once cancelled, on the real dockerd.

Each round starts a build whose last step is `RUN sleep <nonce>` (minutes long), runs it as the `builds` worker would
(build_execute in a thread of its own), waits until the step's container runs on the engine, then cancels it through
build_cancel, the service the API's cancel endpoint calls. It measures, from the cancel's return:

- worker: until build_execute returned (the worker is free for the next build);
- container: until the step's container is gone from the engine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench BERTH_DATA_DIR=/tmp/berth-bench \\
        .venv/bin/python bench/build_cancel.py [--rounds 5]

Uses the database of DATABASE_URL (SQLite under BERTH_DATA_DIR by default), migrated on start. Builds push nowhere.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

STEPS = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
DEADLINE = 120


def context_bytes(marker: str) -> bytes:
    """Return a build context whose last step sleeps for `marker` seconds (a number no other build uses)."""
    from samples import BUSYBOX

    dockerfile = (STEPS + f'RUN ["/bin/sh", "-c", "sleep {marker}"]\n').encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(BUSYBOX, arcname="busybox")
    return buffer.getvalue()


def step_containers(client, marker: str) -> list[str]:
    """The ids of the engine's containers (build steps included) whose command carries `marker`.

    From the list call alone: inspecting each would race with the removal of containers other jobs made.
    """
    return [c["Id"] for c in client.api.containers(all=True) if marker in (c.get("Command") or "")]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {DEADLINE}s waiting for {what}")
        time.sleep(0.01)


def one_round(app, actor, client) -> tuple[float, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from deployments.models import BuildStatus
    from deployments.services.builds import build_create, build_execute
    from deployments.services.builds.cancel import build_cancel

    marker = str(100000 + uuid.uuid4().int % 900000)
    build = build_create(app=app, actor=actor, archive_file=SimpleUploadedFile("c.tar", context_bytes(marker)))

    def work():
        try:
            build_execute(build_id=build.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        wait_until(lambda: step_containers(client, marker), "the sleeping step to start")
        build_cancel(build=build, actor=actor)
        cancelled = time.perf_counter()
        worker_ended = container_gone = None
        deadline = time.monotonic() + DEADLINE
        while worker_ended is None or container_gone is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"the cancelled build {build.pk} did not stop within {DEADLINE}s")
            now = time.perf_counter()
            if worker_ended is None and not worker.is_alive():
                worker_ended = now - cancelled
            if container_gone is None and not step_containers(client, marker):
                container_gone = now - cancelled
            time.sleep(0.01)
    finally:
        worker.join()
    build.refresh_from_db()
    if build.status != BuildStatus.CANCELLED:
        raise SystemExit(f"build {build.pk} ended {build.status}, not cancelled:\n{build.log}")
    return worker_ended, container_gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import django

    os.environ["BERTH_REGISTRY"] = ""
    django.setup()
    import docker
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from deployments.models import App
    from deployments.services.builds import LOCAL_ENGINE
    from tenants.models import Membership, Role, Tenant

    settings.BERTH_REGISTRY = ""
    call_command("migrate", verbosity=0)
    slug = f"bench{uuid.uuid4().hex[:8]}"
    tenant = Tenant.objects.create(slug=slug, name=slug)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    app = App.objects.create(tenant=tenant, slug="cancel")
    client = docker.DockerClient(base_url=LOCAL_ENGINE.url, timeout=60)

    workers: list[float] = []
    containers: list[float] = []
    try:
        for round_ in range(args.rounds):
            worker, container = one_round(app, user, client)
            workers.append(worker)
            containers.append(container)
            print(f"round {round_ + 1}: worker stopped after {worker:.3f}s, step container gone after {container:.3f}s")
    finally:
        client.close()

    print(
        f"\nrounds={args.rounds} (from build_cancel's return)\n"
        f"worker stopped       median {statistics.median(workers):.3f}s  max {max(workers):.3f}s\n"
        f"step container gone  median {statistics.median(containers):.3f}s  max {max(containers):.3f}s"
    )
    print(
        json.dumps(
            {
                "bench": "build_cancel",
                "rounds": args.rounds,
                "worker_median_s": round(statistics.median(workers), 3),
                "worker_max_s": round(max(workers), 3),
                "container_median_s": round(statistics.median(containers), 3),
                "container_max_s": round(max(containers), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
