"""Benchmark: a buildpack build (Python, Debian stack), cold and warm, against `docker build` of the same app.

The app: a standard-library HTTP server with a `requirements.txt` resolved from a wheel in its `wheels/` folder.
Berth builds it with the Python buildpack (build_create + build_execute: the compile build with the network off,
the cache copied out, the run image build); cold means its cache was cleared first, warm means the cache of the
previous build is there (the buildpack reuses the venv). The baseline is `docker build` of an equivalent
Dockerfile on the same stack image (venv + pip install from the wheels): cold with --no-cache, warm with the layer
cache. Rounds alternate; medians are reported with the ratios.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench BERTH_DATA_DIR=/tmp/berth-bench \\
        .venv/bin/python bench/buildpacks.py [--rounds 3]

Needs the Debian stack (scripts/debian-stack.sh; built and imported when missing). Builds push nowhere.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
STACK = "berth-stack/bookworm:1"
DOCKERFILE = f"""FROM {STACK}
COPY . /app
WORKDIR /app
RUN ["/bin/sh", "-c", "python3 -m venv /app/.venv && /app/.venv/bin/pip install --disable-pip-version-check \\
--no-index --find-links /app/wheels -r requirements.txt"]
ENV PATH=/app/.venv/bin:/usr/bin:/bin
CMD ["python", "app.py"]
"""


def app_tree(folder: Path) -> Path:
    from deployments.tests.git.test_push import APP_PY
    from deployments.tests.services.builds.wheels import make_wheel

    make_wheel(folder / "wheels", "greeting", "1.0", 'MESSAGE = "hello from a wheel"\n')
    (folder / "requirements.txt").write_text("greeting==1.0\n")
    (folder / "app.py").write_text(APP_PY)
    return folder


def as_tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from deployments.engine import images
    from deployments.engine.client import LOCAL_ENGINE
    from deployments.models import App, Stack
    from deployments.services.buildcache import cache_clear
    from deployments.services.builds import build_create, build_execute
    from tenants.models import Tenant

    call_command("migrate", verbosity=0)
    subprocess.run(["bash", str(ROOT / "scripts" / "debian-stack.sh"), STACK], check=True)
    Stack.objects.update_or_create(name="bookworm", defaults={"build_image": STACK, "run_image": STACK})
    Stack.objects.exclude(name="bookworm").update(is_default=False)
    Stack.objects.filter(name="bookworm").update(is_default=True)
    slug = f"bench{uuid.uuid4().hex[:8]}"
    call_command("createtenant", slug, "--owner", "bench", stdout=io.StringIO())
    app = App.objects.create(tenant=Tenant.objects.get(slug=slug), slug="py")
    work = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    tree = app_tree(work / "app")
    payload = as_tar(tree)
    (tree / "Dockerfile").write_text(DOCKERFILE)
    times: dict[str, list[float]] = {"berth cold": [], "berth warm": [], "docker cold": [], "docker warm": []}
    made: list[str] = []

    def berth(kind: str) -> None:
        if kind == "cold":
            cache_clear(app=app, actor=None)
        started = time.perf_counter()
        build = build_create(app=app, actor=None, archive_file=SimpleUploadedFile("s.tar", payload))
        build = build_execute(build_id=build.pk)
        times[f"berth {kind}"].append(time.perf_counter() - started)
        if build.status != "succeeded":
            raise SystemExit(build.log)
        made.append(build.image)

    def docker(kind: str) -> None:
        tag = f"berth-bench/buildpacks:{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        extra = ["--no-cache"] if kind == "cold" else []
        subprocess.run(["docker", "build", "-q", *extra, "-t", tag, str(tree)], check=True, capture_output=True)
        times[f"docker {kind}"].append(time.perf_counter() - started)
        made.append(tag)

    try:
        for number in range(args.rounds):
            steps = [berth, docker] if number % 2 == 0 else [docker, berth]
            for kind in ("cold", "warm"):
                for step in steps:
                    step(kind)
    finally:
        for reference in made:
            try:
                images.remove(LOCAL_ENGINE, reference)
            except Exception as error:  # a leftover image is reported, not fatal
                print(f"could not remove {reference}: {error}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:12} median {medians[name]:6.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"berth warm / berth cold: {medians['berth warm'] / medians['berth cold']:.2f}")
    print(f"berth cold / docker cold: {medians['berth cold'] / medians['docker cold']:.2f}")
    print(f"berth warm / docker warm: {medians['berth warm'] / medians['docker warm']:.2f}")


if __name__ == "__main__":
    main()
