"""Local git repositories for build tests (file:// URLs, no network)."""

import shutil
import subprocess
from pathlib import Path

from samples import build_context

_ENV = {
    "GIT_AUTHOR_NAME": "Berth Tests",
    "GIT_AUTHOR_EMAIL": "tests@berth.invalid",
    "GIT_COMMITTER_NAME": "Berth Tests",
    "GIT_COMMITTER_EMAIL": "tests@berth.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_ENV, check=True, capture_output=True, text=True).stdout.strip()


def repository(path: Path, files: dict[str, bytes], *, branch: str = "main") -> Path:
    """Create a repository at `path` with one commit of `files` on `branch`; return its path."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch", branch)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


def sample_repository(name: str, path: Path) -> Path:
    """Create a repository holding the sample app `name` (busybox included) on branch main."""
    work = build_context(name, path.parent / f"{path.name}-ctx")
    path.mkdir(parents=True)
    shutil.copytree(work, path, dirs_exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch", "main")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", f"sample {name}")
    return path
