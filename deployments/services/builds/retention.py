"""Retention of uploaded build sources: each app keeps the archives of its last BERTH_BUILD_KEEP_ARCHIVES builds.

Uploads live under BERTH_DATA_DIR/builds/<tenant>/<app>/<number>.tar. When a build ends, the archives of the app's
older builds are deleted; the archive of a pending or running build is never deleted, whatever its age.
`build_archives_collect` (run by `manage.py prune_build_archives` and by the embedded periodic garbage collection)
catches up on every app, and deletes the files no build names any more (an app that was deleted) once they are older
than ORPHAN_GRACE_SECONDS: a file younger than that may belong to an upload whose build is not committed yet.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from deployments.models import App, Build, BuildStatus, SourceKind

logger = logging.getLogger(__name__)

ORPHAN_GRACE_SECONDS = 3600
_ACTIVE = (BuildStatus.PENDING, BuildStatus.RUNNING)


@dataclass
class Pruned:
    """What a retention pass deleted (or would delete, in a dry run), and the bytes it freed."""

    archives: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)
    bytes_freed: int = 0


def archives_dir() -> Path:
    return Path(settings.DATA_DIR) / "builds"


def _inside(path: Path) -> bool:
    """Whether `path` is a file under the archives folder (a path read from the database is checked before use)."""
    try:
        return path.resolve().is_relative_to(archives_dir().resolve())
    except OSError:
        return False


def _delete(path: Path, pruned: Pruned, into: list[Path], *, dry_run: bool) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if not dry_run:
        path.unlink(missing_ok=True)
    into.append(path)
    pruned.bytes_freed += size


def build_archives_prune(*, app: App, keep: int | None = None, dry_run: bool = False) -> Pruned:
    """Delete the archives of `app`'s builds older than its `keep` newest ones (BERTH_BUILD_KEEP_ARCHIVES).

    A build whose archive is deleted keeps its record and log; its source says `"archive": ""`.
    """
    keep = max(0, settings.BERTH_BUILD_KEEP_ARCHIVES if keep is None else keep)
    pruned = Pruned()
    builds = Build.objects.filter(app=app, source_kind=SourceKind.TARBALL).exclude(source__archive="")
    kept = 0
    for build in builds.order_by("-number").only("pk", "number", "status", "source"):
        if not build.source.get("archive"):
            continue
        if kept < keep or build.status in _ACTIVE:
            kept += 1
            continue
        path = Path(build.source["archive"])
        if not _inside(path):
            logger.warning("build %s names an archive outside %s; left alone", build.pk, archives_dir())
            continue
        with transaction.atomic():
            # Re-read under a lock: a finished build never runs again, but its row may have changed meanwhile.
            locked = Build.objects.select_for_update().filter(pk=build.pk).first()
            if locked is None or locked.status in _ACTIVE or locked.source.get("archive") != str(path):
                continue
            _delete(path, pruned, pruned.archives, dry_run=dry_run)
            if not dry_run:
                locked.source = {**locked.source, "archive": ""}
                locked.save(update_fields=["source"])
    return pruned


def build_archives_collect(*, keep: int | None = None, dry_run: bool = False) -> Pruned:
    """Prune every app's archives, then delete the orphan archive files older than ORPHAN_GRACE_SECONDS."""
    total = Pruned()
    apps = App.objects.filter(
        pk__in=Build.objects.filter(source_kind=SourceKind.TARBALL).exclude(source__archive="").values("app_id")
    )
    for app in apps:
        pruned = build_archives_prune(app=app, keep=keep, dry_run=dry_run)
        total.archives += pruned.archives
        total.bytes_freed += pruned.bytes_freed
    root = archives_dir()
    if not root.is_dir():
        return total
    named = {
        str(Path(path).resolve())
        for path in Build.objects.filter(source_kind=SourceKind.TARBALL)
        .exclude(source__archive="")
        .values_list("source__archive", flat=True)
        if path
    }
    old = time.time() - ORPHAN_GRACE_SECONDS
    for path in sorted(root.glob("*/*/*.tar")):
        if str(path.resolve()) in named or not path.is_file() or path.stat().st_mtime > old:
            continue
        _delete(path, total, total.orphans, dry_run=dry_run)
    # Folders stay, even empty: an upload may be creating its file in one right now.
    return total
