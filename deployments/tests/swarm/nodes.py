"""A real Swarm on this machine: dockerds in network namespaces of their own, the first the manager.

Each node is a dockerd inside a network namespace (`berth-swarm-N`, address 10.60.0.1N on the host bridge
`berthswarm`, whose host side is 10.60.0.1), with its own socket, data root, exec root and containerd namespace.
Inside its namespace a dockerd keeps its default bridge and its iptables: they are the namespace's own, so the
shared engines' chains on the host are untouched. The daemon is started through nsenter (the process must be in the
namespace, its socket on the host's filesystem). The host forwards between the nodes' veths (Swarm's gossip,
overlay VXLAN), and reaches each node's host-mode published ports at the node's address, as the router does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

BRIDGE = "berthswarm"
HOST_ADDRESS = "10.60.0.1"


def _run(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result


def bridge_up() -> None:
    if _run("ip", "link", "show", BRIDGE).returncode != 0:
        _run("ip", "link", "add", BRIDGE, "type", "bridge", check=True)
    if f"{HOST_ADDRESS}/24" not in _run("ip", "-4", "addr", "show", "dev", BRIDGE).stdout:
        _run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", BRIDGE, check=True)
    _run("ip", "link", "set", BRIDGE, "up", check=True)
    # The shared engine sets FORWARD's policy to DROP: node-to-node traffic through the bridge is let through.
    rule = ("FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT")
    if _run("iptables", "-C", *rule).returncode != 0:
        _run("iptables", "-I", *rule, check=True)


@dataclass
class SwarmNode:
    number: int
    log_dir: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"berth-swarm-{self.number}"

    @property
    def address(self) -> str:
        return f"10.60.0.{10 + self.number}"

    @property
    def url(self) -> str:
        return f"unix:///run/{self.name}.sock"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def answers(self) -> bool:
        try:
            client = self.client(timeout=3)
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except Exception:  # any failure means not answering yet
            return False
        finally:
            client.close()

    def _namespace_up(self) -> None:
        if _run("ip", "netns", "pids", self.name).returncode != 0:
            _run("ip", "netns", "add", self.name, check=True)
        veth = f"vswarm{self.number}"
        if _run("ip", "link", "show", veth).returncode != 0:
            _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", self.name, check=True)
            _run("ip", "link", "set", veth, "master", BRIDGE, "up", check=True)
            _run("ip", "-n", self.name, "addr", "add", f"{self.address}/24", "dev", "eth0", check=True)
            _run("ip", "-n", self.name, "link", "set", "eth0", "up", check=True)
            _run("ip", "-n", self.name, "link", "set", "lo", "up", check=True)
            _run("ip", "-n", self.name, "route", "add", "default", "via", HOST_ADDRESS, check=True)

    def start(self, timeout: float = 90) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        bridge_up()
        self._namespace_up()
        exec_root = Path(f"/run/{self.name}")
        for stale in (Path(f"/run/{self.name}.pid"), exec_root / "containerd" / "containerd.pid"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                "nsenter", f"--net=/run/netns/{self.name}", "--",
                "dockerd",
                "-H", self.url,
                "--pidfile", f"/run/{self.name}.pid",
                "--exec-root", str(exec_root),
                "--data-root", f"/var/lib/{self.name}",
                "--containerd-namespace", self.name,
                "--containerd-plugins-namespace", f"{self.name}-plugins",
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # Images reach these nodes by `docker build` on each (no registry): a task uses the local image instead
            # of trying a pull first (which waits for a DNS answer this namespace never gets).
            env={
                **os.environ,
                "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin",
                "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1",
            },
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.log_dir / f"{self.name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"dockerd {self.name} did not answer within {timeout} s:\n{tail}")
            time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def swarm_form(manager: SwarmNode, workers: list[SwarmNode]) -> None:
    """Make `manager` a swarm's manager (anew when it is not one) and join `workers` to it."""
    client = manager.client()
    try:
        if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
            client.swarm.init(advertise_addr=manager.address, listen_addr=f"{manager.address}:2377")
        token = client.swarm.attrs["JoinTokens"]["Worker"]
    finally:
        client.close()
    for worker in workers:
        worker_client = worker.client()
        try:
            if worker_client.info().get("Swarm", {}).get("LocalNodeState") != "active":
                worker_client.swarm.join(
                    remote_addrs=[f"{manager.address}:2377"],
                    join_token=token,
                    advertise_addr=worker.address,
                    listen_addr=f"{worker.address}:2377",
                )
        finally:
            worker_client.close()
