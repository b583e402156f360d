"""Docker engines of the fault tests' own: dockerd processes they may stop, pause and restart at will.

The shared engines (/var/run/docker.sock, /run/berth-docker-2.sock) serve every other suite and are never touched.
Each engine here has its own socket, data root, exec root, pidfile, containerd namespace and bridge, and runs with
--iptables=false as scripts/services.sh's extra hosts do (a dockerd with iptables would flush the other engines'
chains). They start empty: an image reaches them only through the registry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

ROOT = "berth-faults"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=30)


@dataclass
class OwnEngine:
    """One dockerd of the fault tests: `url`, and stop/start/pause/resume as a failing host would."""

    number: int
    log_dir: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{ROOT}-{self.number}"

    @property
    def socket(self) -> str:
        return f"/run/{self.name}.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def bridge(self) -> str:
        return f"berthfb-{self.number}"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def answers(self) -> bool:
        try:
            client = self.client(timeout=3)
        except docker.errors.DockerException:
            return False
        try:
            client.ping()
            return True
        except Exception:  # any failure means not answering yet
            return False
        finally:
            client.close()

    def _bridge_up(self) -> None:
        if _run("ip", "link", "show", self.bridge).returncode != 0:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
        address = f"10.4{self.number}.0.1/16"
        if address not in _run("ip", "-4", "addr", "show", "dev", self.bridge).stdout:
            _run("ip", "addr", "add", address, "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")

    def start(self, timeout: float = 60) -> None:
        """Start the daemon and wait until it answers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused one answers again
            return
        self._bridge_up()
        exec_root = Path(f"/run/{self.name}")
        # A daemon that died leaves its pidfiles behind: the next one would refuse to start.
        for stale in (Path(f"/run/{self.name}.pid"), exec_root / "containerd" / "containerd.pid"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        log = (self.log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                "dockerd",
                "-H", self.url,
                "--pidfile", f"/run/{self.name}.pid",
                "--exec-root", str(exec_root),
                "--data-root", f"/var/lib/{self.name}",
                "--bridge", self.bridge,
                "--iptables=false",
                "--ip-masq=false",
                "--containerd-namespace", self.name,
                "--containerd-plugins-namespace", f"{self.name}-plugins",
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.log_dir / f"{self.name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"dockerd {self.name} did not answer within {timeout} s:\n{tail}")
            time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        """Stop the daemon as a host going away would (SIGTERM; SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def pause(self) -> None:
        """Freeze the daemon (SIGSTOP): its socket accepts connections but nothing answers, as a hung engine."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def image_remove(self, reference: str) -> None:
        client = self.client()
        try:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(reference, force=True)
        finally:
            client.close()

    def remove_tenant(self, slug: str) -> None:
        """Remove what a test's tenant left on this engine (its containers and network)."""
        if not self.answers():
            return
        client = self.client()
        try:
            for item in client.containers.list(all=True, filters={"label": f"berth.tenant={slug}"}):
                item.remove(force=True)
            for network in client.networks.list(names=[f"berth-{slug}"]):
                network.remove()
        finally:
            client.close()
