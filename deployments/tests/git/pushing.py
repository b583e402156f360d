"""Helpers of the git push tests: a working copy committed on main and `git push` to the live portal."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

GIT_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    "LC_ALL": "C",
}


def git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=check)


def working_copy(source: Path, branch: str = "main") -> Path:
    """Make `source` a git working copy with everything committed on `branch`; return it."""
    git("init", "--quiet", f"--initial-branch={branch}", ".", cwd=source)
    git("add", "-A", ".", cwd=source)
    git("commit", "--quiet", "-m", "deploy", cwd=source)
    return source


def remote_url(live_url: str, tenant: str, app: str, token: str | None, user: str = "any") -> str:
    parts = urlsplit(live_url)
    credentials = f"{user}:{token}@" if token else ""
    return f"{parts.scheme}://{credentials}{parts.netloc}/git/{tenant}/{app}.git"


def push(cwd: Path, url: str, refspec: str = "main", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `git push` as a user would; return what the pusher's terminal showed (stderr) and the exit code."""
    return subprocess.run(
        ["git", "-c", "http.postBuffer=524288000", "push", url, refspec],
        cwd=cwd,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def remote_lines(stderr: str) -> list[str]:
    return [line.removeprefix("remote: ").rstrip() for line in stderr.splitlines() if line.startswith("remote: ")]


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return dest
