"""The HAProxy process: master-worker under the router's prefix, its workers, ports, start, seamless reload, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from deployments.router.files import alerts, alive, stat
from deployments.router.runtime import CliError, RouterError


class ProcessMixin:
    """HAProxy's master and workers, for the driver (mixed into HAProxy, whose paths, sockets and lock it uses)."""

    def pid(self) -> int | None:
        """The master's pid while it runs."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        fields = stat(pid)
        if not fields or fields[0] == "Z":
            return None
        try:
            if b"haproxy" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return None
        except OSError:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def workers(self) -> set[int]:
        """The current worker pids (not the old ones a reload replaced), from the master's `show proc`."""
        return self._procs()[0]

    def old_workers(self) -> set[int]:
        return self._procs()[1]

    def _procs(self) -> tuple[set[int], set[int]]:
        try:
            text = self.master.send("show proc")
        except CliError:
            return set(), set()
        current, old, section = set(), set(), ""
        for line in text.splitlines():
            if line.startswith("#"):
                section = line
                continue
            parts = line.split()
            if len(parts) < 2 or parts[1] != "worker":
                continue
            (old if "old" in section else current).add(int(parts[0]))
        return current, old

    def ports_check(self) -> None:
        """Raise RouterError naming a router port another process holds (this router's own HAProxy may hold them)."""
        if self.running():
            return
        for port in (self.port, self.tls_port):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((self.bind, port))
                except OSError as error:
                    raise RouterError(
                        f"The router's port {self.bind}:{port} is in use by another process ({error.strerror}). "
                        "Another Berth, perhaps with another BERTH_DATA_DIR, may be running its router there: "
                        "stop it (`make stop` in its checkout) or set BERTH_ROUTER_PORT / BERTH_ROUTER_TLS_PORT."
                    ) from None

    def _start(self) -> None:
        self.ports_check()
        result = subprocess.run(
            [self.binary, "-W", "-D", "-f", str(self.conf_path), "-p", str(self.pid_path), "-S",
             str(self.layout.master_socket)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RouterError(f"haproxy did not start: {alerts(result.stderr or result.stdout)}")
        self._wait_worker(set(), timeout=30)

    def _wait_worker(self, before: set[int], *, timeout: float) -> set[int]:
        """Wait until a worker not in `before` serves the admin socket; return the new workers."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.workers()
            if current and not current & before:
                self.admin.close()
                try:
                    self.admin.send("show info")
                    return current
                except CliError:
                    pass
            if time.monotonic() > deadline:
                raise RouterError(f"haproxy did not start a worker within {timeout:.0f} s (see {self.conf_path})")
            time.sleep(0.01)

    def _reload(self) -> frozenset[int]:
        """Have the master start a worker on the current config (it takes over the sockets); return the old workers."""
        before = self.workers()
        with contextlib.suppress(CliError):  # the master re-executes itself and closes the connection
            self.master.send("reload")
        self.master.close()
        self._wait_worker(before, timeout=60)
        return frozenset(before)

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop HAProxy: workers finish their requests (SIGUSR1), then a hard stop when they linger."""
        pid = self.pid()
        self.admin.close()
        self.master.close()
        with self._thread_lock:
            self._backends = None
        if pid is None:
            return
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                return
            time.sleep(0.02)
        os.kill(pid, signal.SIGTERM)

    @staticmethod
    def wait_exited(pids: Iterable[int], *, timeout: float) -> bool:
        """Wait until every process in `pids` has exited; False when `timeout` ran out."""
        deadline = time.monotonic() + timeout
        while any(alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _check(self, path: Path) -> None:
        result = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(path)], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            if path != self.conf_path:
                path.unlink(missing_ok=True)
            raise RouterError(f"haproxy -c refused the config: {alerts(result.stderr or result.stdout)}")
