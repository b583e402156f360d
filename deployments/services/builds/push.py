"""Builds started by `git push`: an archive of the pushed commit becomes a build, whose log goes back to the pusher.

deployments/git/ receives the push; its pre-receive hook hands the ref updates here (`push_build`), before git
updates any ref. Only the default branch deploys: a push of another branch, or one deleting a branch, is refused.
The pushed commit is archived from the push's quarantine (its objects are not in the repository yet) and built as an
uploaded archive would be, with the same size limit; `push_follow` then yields the build's log as it grows and ends
with the result: the push succeeds only when the build succeeded and its release was created (and rolled out, when
that finishes within BERTH_GIT_RELEASE_WAIT seconds).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from deployments.models import App, Build, BuildStatus, Release, ReleaseStatus
from deployments.services.builds.core import build_create
from deployments.services.gitrepos import DEFAULT_BRANCH
from portal.errors import Invalid

ZERO = "0" * 40
_POLL_SECONDS = 0.25
_FINAL = (BuildStatus.SUCCEEDED, BuildStatus.FAILED, BuildStatus.CANCELLED)
_RELEASE_FINAL = (ReleaseStatus.SUCCEEDED, ReleaseStatus.FAILED)


class PushRefused(Exception):
    """The push is refused before any build; the message says why and what to do."""


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


def push_check(updates: list[RefUpdate]) -> RefUpdate:
    """Return the one update that deploys (the default branch); raise PushRefused for anything else."""
    branch = f"refs/heads/{DEFAULT_BRANCH}"
    others = [update.ref for update in updates if update.ref != branch]
    if others:
        raise PushRefused(
            f"Berth deploys only the branch {DEFAULT_BRANCH}; refused {', '.join(others)}. "
            f"Push with `git push berth HEAD:{DEFAULT_BRANCH}`."
        )
    if not updates:
        raise PushRefused("nothing to deploy in this push")
    update = updates[0]
    if update.new == ZERO:
        raise PushRefused(f"the branch {DEFAULT_BRANCH} cannot be deleted")
    return update


def _archive(repository: Path, commit: str, objects: dict[str, str], dest: Path, limit: int) -> None:
    """Write `git archive` of `commit` to `dest`, stopping one byte past `limit` (the build then fails on size)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    env.update(objects)
    with dest.open("wb") as out:
        process = subprocess.Popen(
            ["git", "--git-dir", str(repository), "archive", "--format=tar", commit],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        written = 0
        while chunk := process.stdout.read(1024 * 1024):
            out.write(chunk[: limit + 1 - written])
            written += len(chunk)
            if written > limit:
                process.kill()
                break
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        if process.wait(timeout=60) != 0 and written <= limit:
            raise PushRefused(f"the pushed commit could not be read: {stderr or 'git archive failed'}")


def push_build(*, app: App, actor, repository: Path, update: RefUpdate, objects: dict[str, str]) -> Build:
    """Create the build of the pushed commit (pending, or failed at once when its tree is over the size limit)."""
    with tempfile.TemporaryDirectory(prefix="berth-push-") as folder:
        path = Path(folder) / "source.tar"
        _archive(repository, update.new, objects, path, settings.BERTH_BUILD_MAX_CONTEXT_MB * 1024 * 1024)
        with path.open("rb") as handle:
            try:
                return build_create(
                    app=app,
                    actor=actor,
                    archive_file=File(handle, name="source.tar"),
                    pushed={"commit": update.new, "ref": update.ref},
                )
            except Invalid as error:
                raise PushRefused(error.message) from None


@dataclass
class PushResult:
    ok: bool
    line: str


def push_follow(*, build: Build, release_wait: float | None = None) -> Iterator[str | PushResult]:
    """Yield the build's log lines as they are stored, then one PushResult (its line is the push's last word)."""
    sent = 0
    while True:
        build.refresh_from_db(fields=["log", "status", "error", "image"])
        lines = build.log.splitlines()
        yield from lines[sent:]
        sent = len(lines)
        if build.status in _FINAL:
            break
        time.sleep(_POLL_SECONDS)
    if build.status != BuildStatus.SUCCEEDED:
        yield PushResult(False, f"Build {build.number} {build.status}: {build.error or 'see the log above'}")
        return
    release = Release.objects.filter(build=build).order_by("-version").first()
    if release is None:
        reasons = [line for line in lines if line.startswith("No release created: ")]
        yield PushResult(False, reasons[-1] if reasons else f"Build {build.number} succeeded but created no release")
        return
    yield f"Released v{release.version} (build {build.number}, {build.image})"
    deadline = time.monotonic() + (settings.BERTH_GIT_RELEASE_WAIT if release_wait is None else release_wait)
    while release.status not in _RELEASE_FINAL and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        release.refresh_from_db(fields=["status", "error"])
    if release.status == ReleaseStatus.FAILED:
        yield PushResult(False, f"Release v{release.version}: failed: {release.error}")
    elif release.status == ReleaseStatus.SUCCEEDED:
        yield PushResult(True, f"Release v{release.version}: succeeded")
    else:
        yield PushResult(True, f"Release v{release.version}: {release.status}; `berth releases` follows it")
