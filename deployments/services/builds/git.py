"""Clone a customer's git repository at one ref, with a time limit and without prompts, hooks or submodules."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ALLOWED_SCHEMES = ("file", "http", "https")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@{}^~-]{0,199}$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


class GitError(ValueError):
    """The repository could not be cloned at the ref; the message is safe to show (no credentials)."""


def redact(url: str) -> str:
    """Return `url` without the password of its userinfo, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def validate(url: str, ref: str) -> None:
    """Raise GitError for a URL scheme Berth does not fetch from or a ref that is not a plain name or commit."""
    scheme = urlsplit(url).scheme
    if scheme not in ALLOWED_SCHEMES:
        raise GitError(f"git URLs must start with {', '.join(s + '://' for s in ALLOWED_SCHEMES)}; got {redact(url)!r}")
    if not _REF.match(ref or "") or ".." in ref:
        raise GitError(f"{ref!r} is not a valid git ref")


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        # Only the transports the API accepts; `ext::` and friends stay off even through redirects.
        "GIT_ALLOW_PROTOCOL": "file:http:https",
        "LC_ALL": "C",
    }


def _git(args: list[str], *, cwd: Path, deadline: float) -> str:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise GitError("git timed out")
    try:
        result = subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false", *args],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=remaining,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise GitError("git timed out") from error
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reasons = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines or ["git failed"]
        raise GitError(reasons[0].removeprefix("fatal: ").removeprefix("error: "))
    return result.stdout


def clone(url: str, ref: str, dest: Path, *, timeout: float) -> str:
    """Fetch `ref` (branch, tag or commit) of `url` into the new directory `dest`; return the commit checked out.

    Only the one ref is fetched, shallowly when the server allows it. Raise GitError with a readable reason for a
    bad URL, an unreachable repository, a missing ref, or a clone slower than `timeout` seconds.
    """
    validate(url, ref)
    deadline = time.monotonic() + timeout
    dest.mkdir(parents=True)
    try:
        _git(["init", "--quiet", "."], cwd=dest, deadline=deadline)
        _git(["remote", "add", "origin", url], cwd=dest, deadline=deadline)
        try:
            _git(["fetch", "--quiet", "--depth", "1", "--no-tags", "origin", ref], cwd=dest, deadline=deadline)
        except GitError as error:
            if "does not support shallow" in str(error):
                # A static ("dumb") HTTP server cannot serve a shallow fetch: fetch the ref with its history.
                _git(["fetch", "--quiet", "--no-tags", "origin", ref], cwd=dest, deadline=deadline)
                _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], cwd=dest, deadline=deadline)
                return _git(["rev-parse", "HEAD"], cwd=dest, deadline=deadline).strip()
            if "timed out" in str(error) or not _SHA.match(ref):
                raise
            # Some servers refuse a shallow fetch by commit: fetch everything and pick the commit.
            _git(
                ["fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*"],
                cwd=dest,
                deadline=deadline,
            )
            _git(["checkout", "--quiet", "--detach", ref], cwd=dest, deadline=deadline)
        else:
            _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], cwd=dest, deadline=deadline)
        return _git(["rev-parse", "HEAD"], cwd=dest, deadline=deadline).strip()
    except GitError as error:
        message = str(error).replace(url, redact(url))
        if "couldn't find remote ref" in message or "not our ref" in message or "did not match" in message:
            message = f"the ref {ref!r} does not exist in {redact(url)}"
        raise GitError(message) from None
