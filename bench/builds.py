"""Benchmark: Berth's build of a sample app against `docker build` of the same context, in the same run.

Each round builds the sample context twice, once through Berth (build_create + build_execute: archive checks,
re-packing, the engine build with its log streamed to the channel layer and the database, inspection, the release)
and once with the docker CLI (`docker build - < context.tar`, the classic builder like Berth's). A LABEL with a
fresh nonce right after FROM makes every step of both builds miss the cache, so both do the full work. The order
alternates between rounds; the result is the ratio of the medians.

    BERTH_DATA_DIR=/tmp/berth-bench .venv/bin/python bench/builds.py [--rounds 7] [--sample httpd] [--push]

With --push, Berth also pushes to BERTH_REGISTRY (default 127.0.0.1:5000) and the baseline runs `docker push`.
Uses the database of DATABASE_URL (SQLite under BERTH_DATA_DIR by default), migrated on start.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def context_bytes(sample: str, nonce: str) -> bytes:
    """Return the sample's build context as a plain tar, its Dockerfile stamped with `nonce` after FROM."""
    from samples import BUSYBOX, sample_dir

    folder = sample_dir(sample)
    dockerfile = (folder / "Dockerfile").read_text()
    stamped = dockerfile.replace("FROM scratch\n", f"FROM scratch\nLABEL berth.bench.nonce={nonce}\n", 1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            name = str(path.relative_to(folder))
            if name == "Dockerfile":
                info = tarfile.TarInfo("Dockerfile")
                info.size = len(stamped.encode())
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(stamped.encode()))
            elif path.is_file():
                tar.add(path, arcname=name)
        tar.add(BUSYBOX, arcname="busybox")
    return buffer.getvalue()


def berth_build(app, actor, data: bytes) -> tuple[float, object]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from deployments.services.builds import build_create, build_execute

    started = time.perf_counter()
    build = build_create(app=app, actor=actor, archive_file=SimpleUploadedFile("context.tar", data))
    build = build_execute(build_id=build.pk)
    elapsed = time.perf_counter() - started
    if build.status != "succeeded":
        raise SystemExit(f"Berth build failed: {build.error}\n{build.log}")
    return elapsed, build


def docker_build(data: bytes, tag: str, push: bool) -> float:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    started = time.perf_counter()
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=data, env=env, check=True, capture_output=True)
    if push:
        subprocess.run(["docker", "push", "-q", tag], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sample", default="httpd")
    parser.add_argument("--push", action="store_true", help="push to the registry on both sides")
    args = parser.parse_args()

    import django

    registry = os.environ.get("BERTH_REGISTRY", "127.0.0.1:5000") if args.push else ""
    os.environ["BERTH_REGISTRY"] = registry
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from deployments.engine import images
    from deployments.engine.client import LOCAL_ENGINE
    from deployments.models import App
    from tenants.models import Membership, Role, Tenant

    settings.BERTH_REGISTRY = registry
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    slug = f"bench{uuid.uuid4().hex[:8]}"
    tenant = Tenant.objects.create(slug=slug, name=slug)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    app = App.objects.create(tenant=tenant, slug=args.sample)
    baseline_repo = f"{registry}/{slug}/baseline" if registry else f"berth-bench/{slug}-baseline"

    berth_times: list[float] = []
    docker_times: list[float] = []
    made: list[str] = []
    try:
        # One unmeasured round of each warms the page cache and the engine.
        docker_build(context_bytes(args.sample, uuid.uuid4().hex), f"{baseline_repo}:warm", args.push)
        made.append(f"{baseline_repo}:warm")
        made.append(berth_build(app, user, context_bytes(args.sample, uuid.uuid4().hex))[1].image)
        for round_ in range(args.rounds):
            order = ("berth", "docker") if round_ % 2 == 0 else ("docker", "berth")
            for side in order:
                data = context_bytes(args.sample, uuid.uuid4().hex)
                if side == "berth":
                    elapsed, build = berth_build(app, user, data)
                    berth_times.append(elapsed)
                    made.append(build.image)
                else:
                    tag = f"{baseline_repo}:{round_}"
                    docker_times.append(docker_build(data, tag, args.push))
                    made.append(tag)
            print(f"round {round_ + 1}: berth {berth_times[-1]:.3f}s  docker build {docker_times[-1]:.3f}s")
    finally:
        for reference in made:
            images.remove(LOCAL_ENGINE, reference)

    berth, docker = statistics.median(berth_times), statistics.median(docker_times)
    ratio = berth / docker
    print(
        f"\nsample={args.sample} rounds={args.rounds} push={'yes' if args.push else 'no'}\n"
        f"median berth build   {berth:.3f}s  (min {min(berth_times):.3f}s)\n"
        f"median docker build  {docker:.3f}s  (min {min(docker_times):.3f}s)\n"
        f"ratio berth/docker   {ratio:.3f}  (overhead {100 * (ratio - 1):+.1f}%, target under +5%)"
    )


if __name__ == "__main__":
    main()
