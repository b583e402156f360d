"""Run git's own `git http-backend` (a CGI program) for one request, streaming its answer.

The request body is fed to the program from a thread while its output is read, so a large push never deadlocks;
the body is cut (and the program killed) past `max_body` bytes, and the program is killed at its deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

HOOKS = Path(__file__).resolve().parent / "hooks"
_CHUNK = 64 * 1024


class BackendError(Exception):
    """git http-backend gave no answer; the message is for the server log."""


def _environment(cgi: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    # The hook runs with the portal's Python (hooks/pre-receive asks `env python3`), whatever PATH the portal has.
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    env = {
        "PATH": path,
        "HOME": "/nonexistent",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_HTTP_EXPORT_ALL": "1",
        # Berth's hooks, whatever the repository holds: a push never brings hooks of its own.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(HOOKS),
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    env.update(cgi)
    env.update(extra)
    return env


class Backend:
    """One run of `git http-backend`: status and headers once it answered, then its body through `chunks()`."""

    def __init__(
        self,
        *,
        cgi: dict[str, str],
        body: BinaryIO,
        max_body: int,
        timeout: float,
        extra_env: dict[str, str] | None = None,
        on_close=None,
    ):
        self.max_body = max_body
        self.too_large = False
        self.timed_out = False
        self.on_close = on_close
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), when the answer has been streamed)
        self.process = subprocess.Popen(
            ["git", "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=_environment(cgi, extra_env or {}),
        )
        self.timer = threading.Timer(timeout, self._expire)
        self.timer.daemon = True
        self.timer.start()
        self.feeder = threading.Thread(target=self._feed, args=(body,), name="git-http-backend-feed", daemon=True)
        self.feeder.start()
        try:
            self.status, self.headers = self._read_headers()
        except BaseException:
            self.close()
            raise

    def _expire(self) -> None:
        self.timed_out = True
        self.process.kill()

    def _feed(self, body: BinaryIO) -> None:
        written = 0
        try:
            while chunk := body.read(_CHUNK):
                written += len(chunk)
                if written > self.max_body:
                    self.too_large = True
                    self.process.kill()
                    return
                self.process.stdin.write(chunk)
        except OSError:  # the program ended early (refused the request, or was killed): its answer says why
            pass
        finally:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def _read_headers(self) -> tuple[int, list[tuple[str, str]]]:
        status, headers = 200, []
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise BackendError(f"git http-backend gave no answer: {self._stderr()}")
            line = line.rstrip(b"\r\n")
            if not line:
                return status, headers
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name.strip(), value.strip()))

    def _stderr(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()[-2000:]

    def chunks(self) -> Iterator[bytes]:
        """Yield the body of the answer as git writes it; the run ends (and is cleaned up) with the iteration."""
        try:
            while chunk := self.process.stdout.read1(_CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.timer.cancel()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.feeder.join(timeout=5)
        if self.too_large:
            logger.info("a push was cut at %s bytes", self.max_body)
        elif self.timed_out:
            logger.info("a git request was stopped at its deadline")
        elif self.process.returncode not in (0, -9):
            logger.warning("git http-backend exited with %s: %s", self.process.returncode, self._stderr())
        self.stderr.close()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()
