"""Where each app's git repository lives: BERTH_DATA_DIR/git/<tenant>/<app>.git, a bare repository made on first push.

The repository holds what was pushed and nothing else Berth relies on: a build is made from an archive of the pushed
commit (services/builds/push.py), so removing the repository (with the app) loses no build or release.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from django.conf import settings

DEFAULT_BRANCH = "main"


def repositories_root() -> Path:
    return Path(settings.DATA_DIR) / "git"


def repository_path(*, tenant_slug: str, app_slug: str) -> Path:
    return repositories_root() / tenant_slug / f"{app_slug}.git"


def repository_ensure(*, tenant_slug: str, app_slug: str) -> Path:
    """Return the app's bare repository, creating it (default branch main, pushes limited in size) when missing."""
    path = repository_path(tenant_slug=tenant_slug, app_slug=app_slug)
    if (path / "HEAD").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={DEFAULT_BRANCH}", str(path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    config = {
        "http.receivepack": "true",
        "receive.maxInputSize": str(settings.BERTH_GIT_MAX_PUSH_MB * 1024 * 1024),
        "receive.denyDeletes": "true",
        "receive.denyNonFastForwards": "false",
        "receive.fsckObjects": "true",
        "gc.auto": "0",
    }
    for key, value in config.items():
        subprocess.run(["git", "--git-dir", str(path), "config", key, value], env=env, check=True, timeout=30)
    return path


def repository_remove(*, tenant_slug: str, app_slug: str) -> None:
    """Delete the app's repository (the app is gone); nothing happens when it never received a push."""
    shutil.rmtree(repository_path(tenant_slug=tenant_slug, app_slug=app_slug), ignore_errors=True)
