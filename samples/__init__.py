"""Sample apps for tests, benchmarks and the demo, built FROM scratch with busybox.

Each folder holds a Dockerfile, a Procfile and a shell script. No image can be pulled on
Berth's machines, so a build context is the folder plus a copy of the static busybox
(Debian's busybox-static), which the Dockerfile installs as /bin/sh, httpd, sleep...

    from samples import build_context, context_tarball
    path = build_context("httpd", tmp_path / "httpd")  # a directory for `docker build`
    data = context_tarball("httpd")                      # a .tar.gz, as `POST .../builds/` takes it
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
NAMES = ("httpd", "worker", "failing", "unhealthy", "stack-busybox")
BUSYBOX = Path(os.environ.get("BERTH_BUSYBOX", "/bin/busybox"))


def sample_dir(name: str) -> Path:
    """Return the folder of the sample app ``name``; raise ValueError for an unknown name."""
    if name not in NAMES:
        raise ValueError(f"unknown sample app {name!r}; known: {', '.join(NAMES)}")
    return SAMPLES_DIR / name


def build_context(name: str, dest: str | os.PathLike[str]) -> Path:
    """Copy the sample app ``name`` and busybox into the directory ``dest`` and return it.

    ``dest`` is created when missing; files already there are overwritten.
    """
    if not BUSYBOX.is_file():
        raise FileNotFoundError(f"{BUSYBOX} is missing: install Debian's busybox-static (make install)")
    dest = Path(dest)
    shutil.copytree(sample_dir(name), dest, dirs_exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "busybox")
    return dest


def context_tarball(name: str) -> bytes:
    """Return the build context of the sample app ``name`` as a gzipped tar archive."""
    if not BUSYBOX.is_file():
        raise FileNotFoundError(f"{BUSYBOX} is missing: install Debian's busybox-static (make install)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(sample_dir(name).rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(sample_dir(name))))
        tar.add(BUSYBOX, arcname="busybox")
    return buffer.getvalue()


def sample_tag(name: str) -> str:
    """Return the test image tag of the sample app ``name``: ``berth-test/<name>:<digest of its files>``.

    The tag names the content, so checkouts with different versions of a sample that share one Docker engine never
    run each other's image.
    """
    digest = hashlib.sha256()
    for path in sorted(sample_dir(name).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(sample_dir(name))).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"berth-test/{name}:{digest.hexdigest()[:12]}"
