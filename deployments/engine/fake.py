"""An in-memory engine: the functions of engine/containers.py, engine/gc.py and `ping`, without a dockerd.

Selected by `BERTH_ENGINE=fake` (settings), for unit tests and for trying Berth on a machine without Docker. Each
host (an EngineSpec's name) has its own containers, networks and images. What a container does is given by its
image's `Behaviour`: a web container of a serving image answers HTTP on a real loopback port, so the health check and
the router reach it as they would a real one. `hook`, when set, hears of every call first (function, host, what about)
and may raise: that is how a test fails a call or stops a worker at a chosen point.

The garbage collector's inventory is the lists `containers` and `images` given to the engine (EngineContainer and
EngineImage, the shape engine/gc.py returns), whatever the host.
"""

from __future__ import annotations

import contextlib
import http
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from deployments.engine.client import EngineError
from deployments.engine.containers import RunSpec, Started
from deployments.engine.gc import EngineContainer, EngineImage, Inventory
from deployments.engine.labels import MANAGED_LABEL
from deployments.engine.swarm import NotAManager


def image(image_id: str, *tags: str, layers: tuple[tuple[str, int], ...] = (), created: int = 0) -> EngineImage:
    """An image named `image_id` (a sha256: prefix is added) with `tags` and (chain id, bytes) layers."""
    return EngineImage(
        image_id=f"sha256:{image_id}",
        tags=tags,
        digests=(),
        size=sum(size for _chain, size in layers),
        created=created,
        layers=layers,
    )


def container(
    engine_id: str, image_id: str, *, state: str = "exited", finished_at: datetime | None = None, **labels: str
) -> EngineContainer:
    """A container of image `image_id`; keyword labels use _ for dots: berth_app="web" is berth.app=web."""
    return EngineContainer(
        engine_id=engine_id,
        name=f"c-{engine_id}",
        image_id=f"sha256:{image_id}",
        state=state,
        labels={key.replace("_", "."): value for key, value in labels.items()},
        finished_at=finished_at,
    )


@dataclass(frozen=True)
class Behaviour:
    """What the containers of an image do.

    http_status: what a web container answers on its port (None: it never listens). exit_code: None runs on; a
    number makes the process exit at once with it, printing `output`. exec_code: what a health check command
    returns. release_exit and release_output: how a one-off (release phase) container ends.
    """

    http_status: int | None = 200
    exit_code: int | None = None
    oom_killed: bool = False
    output: str = ""
    exec_code: int = 0
    release_exit: int = 0
    release_output: str = ""


class _Port:
    """A loopback port of a web container: it answers every request with HTTP `status`, or (None) refuses them.

    A small accept loop rather than http.server's: closing the listening socket ends it at once, where
    `serve_forever` would be waited for.
    """

    def __init__(self, *, bind: str, status: int | None, name: str):
        self.status, self.name = status, name
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((bind, 0))
        self.port = self.socket.getsockname()[1]
        if status is not None:
            self.socket.listen(64)
            threading.Thread(target=self._serve, name=f"fake-{name}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _peer = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                body = f"{self.name}\n".encode()
                reason = http.HTTPStatus(self.status).phrase
                conn.sendall(
                    f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: text/plain\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
            except OSError:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()


@dataclass
class FakeContainer:
    engine_id: str
    name: str
    image: str
    labels: dict[str, str]
    env: dict[str, str]
    command: list[str] | None
    memory_mb: int
    state: str
    exit_code: int
    oom_killed: bool
    output: str
    created: float
    host_port: int | None = None
    ip: str | None = None
    port: _Port | None = None
    # Secret files as the process would find them (path -> content); never in env, labels or inspect.
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class FakeHost:
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    networks: dict[str, dict[str, str]] = field(default_factory=dict)
    images: set[str] = field(default_factory=set)


@dataclass
class FakeEngine:
    """Stands in for the engine modules: same functions, taking the same EngineSpec first, no dockerd."""

    # Swarm managers: engine name -> the nodes it reports (engine/swarm.py swarm_nodes).
    swarm_managers: dict[str, list[dict]] = field(default_factory=dict)
    # Engines that are nodes of a swarm: engine name -> node id (engine/swarm.py swarm_node_id).
    swarm_node_ids: dict[str, str] = field(default_factory=dict)
    # Garbage collection's inventory (any host), and what it was told to remove.
    containers: list[EngineContainer] = field(default_factory=list)
    images: list[EngineImage] = field(default_factory=list)
    cache_bytes: int | None = 0
    refuse: set[str] = field(default_factory=set)
    unreachable: bool = False
    removed_containers: list[str] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    pruned: int = 0
    # Containers, networks and images per host; what each image does; images a pull can fetch; hosts that are down.
    hosts: dict[str, FakeHost] = field(default_factory=dict)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    pullable: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)
    # Every call, in order: (function, host, what it was about), and the one-off containers run.
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    oneoffs: list[RunSpec] = field(default_factory=list)
    hook: Callable[[str, str, str], None] | None = None

    def __post_init__(self):
        self._lock = threading.RLock()

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    def _enter(self, what: str, spec, about: str = "") -> FakeHost:
        name = getattr(spec, "name", "")  # garbage collection's unit tests call without a host
        if self.hook is not None:
            self.hook(what, name, about)
        with self._lock:
            self.calls.append((what, name, about))
        if self.unreachable or name in self.down:
            raise EngineError(f"engine {name} did not answer (ConnectionError)", host=name, unreachable=True)
        with self._lock:
            return self.hosts.setdefault(name, FakeHost())

    def host(self, name: str) -> FakeHost:
        with self._lock:
            return self.hosts.setdefault(name, FakeHost())

    def behaviour(self, image: str, behaviour: Behaviour | None = None, *, pullable: bool = True) -> Behaviour:
        """Say (or read) what the containers of `image` do; a pullable image reaches any host that asks for it."""
        with self._lock:
            if behaviour is not None:
                self.behaviours[image] = behaviour
                if pullable:
                    self.pullable.add(image)
            return self.behaviours.get(image, Behaviour())

    def running(self, host: str | None = None, **labels: str) -> list[FakeContainer]:
        """The live containers (of `host`, or of all) whose labels include `labels` (keywords use _ for dots)."""
        wanted = {key.replace("_", "."): value for key, value in labels.items()}
        with self._lock:
            found = [
                item
                for name, state in self.hosts.items()
                if host is None or name == host
                for item in state.containers.values()
                if item.state in ("running", "restarting") and wanted.items() <= item.labels.items()
            ]
        return sorted(found, key=lambda item: item.name)

    def close(self) -> None:
        """Stop every loopback port the containers hold."""
        with self._lock:
            for state in self.hosts.values():
                for item in state.containers.values():
                    _close(item)

    # --- ping (engine/client.py) ---------------------------------------------------------------------------------

    def ping(self, spec, *, timeout: int = 5) -> dict:
        state = self._enter("ping", spec)
        running = sum(1 for item in state.containers.values() if item.state == "running")
        return {"engine_version": "fake", "running_containers": running, "memory_total_mb": 65536}

    # --- containers, networks, images (engine/containers.py) ------------------------------------------------------

    def network_ensure(self, spec, *, name: str, labels: dict[str, str]) -> None:
        state = self._enter("network_ensure", spec, name)
        with self._lock:
            state.networks.setdefault(name, {**labels, MANAGED_LABEL: "1"})

    def network_remove(self, spec, *, name: str) -> None:
        state = self._enter("network_remove", spec, name)
        with self._lock:
            state.networks.pop(name, None)

    def image_ensure(self, spec, *, image: str, timeout: int = 300) -> None:
        state = self._enter("image_ensure", spec, image)
        with self._lock:
            if image in state.images:
                return
            if image not in self.pullable:
                raise EngineError(
                    f"Image {image} is not on host {spec.name} and could not be pulled: not found in the registry",
                    host=spec.name,
                    not_found=True,
                )
            state.images.add(image)

    def image_reachable(self, spec, *, image: str) -> str:
        state = self._enter("image_reachable", spec, image)
        with self._lock:
            if image in state.images or image in self.pullable:
                return ""
        return f"image {image} is not on {spec.name} and its registry did not give it: not found"

    def container_start(self, spec, run: RunSpec) -> Started:
        state = self._enter("container_start", spec, run.name)
        behaviour = self.behaviour(run.image)
        with self._lock:
            if run.image not in state.images:
                raise EngineError(
                    f"Container {run.name}: image not found on {spec.name}", host=spec.name, not_found=True
                )
            if run.network not in state.networks:
                raise EngineError(
                    f"Container {run.name} failed on {spec.name}: network {run.network} not found", host=spec.name
                )
            if any(item.name == run.name for item in state.containers.values()):
                raise EngineError(
                    f"Container {run.name} failed on {spec.name}: the name is already in use", host=spec.name
                )
            exited = behaviour.exit_code is not None
            item = FakeContainer(
                engine_id=secrets.token_hex(32),
                name=run.name,
                image=run.image,
                labels={**run.labels, MANAGED_LABEL: "1"},
                env=dict(run.env),
                command=run.command,
                memory_mb=run.memory_mb,
                state="exited" if exited else "running",
                exit_code=behaviour.exit_code or 0,
                oom_killed=behaviour.oom_killed,
                output=behaviour.output,
                created=time.time(),
                files=dict(run.secret_files),
            )
            if run.port and not exited:
                if not run.bind_ip.startswith("127."):
                    raise EngineError(
                        f"Container {run.name}: the fake engine publishes on loopback only", host=spec.name
                    )
                item.port = _Port(bind=run.bind_ip, status=behaviour.http_status, name=run.name)
                item.host_port = item.port.port
                # Unpublished (reached on its network): the fake's "network address" is its loopback port.
                item.ip = None if run.publish else run.bind_ip
            state.containers[item.engine_id] = item
            return Started(engine_id=item.engine_id, host_port=item.host_port, ip=item.ip)

    def container_reached(self, spec, *, engine_id: str, port: int, publish: bool, network: str) -> Started:
        state = self._enter("container_reached", spec, engine_id)
        with self._lock:
            item = self._container(state, spec, engine_id, "Container address")
            return Started(engine_id=engine_id, host_port=item.host_port, ip=item.ip)

    def _container(self, state: FakeHost, spec, engine_id: str, what: str) -> FakeContainer:
        item = state.containers.get(engine_id)
        if item is None:
            raise EngineError(
                f"{what}: not found on {spec.name} (No such container: {engine_id})", host=spec.name, not_found=True
            )
        return item

    def container_state(self, spec, *, engine_id: str) -> dict:
        state = self._enter("container_state", spec, engine_id)
        with self._lock:
            item = self._container(state, spec, engine_id, "Container state")
            return {
                "status": item.state,
                "exit_code": item.exit_code,
                "restart_count": 0,
                "oom_killed": item.oom_killed,
            }

    def container_logs_tail(self, spec, *, engine_id: str, lines: int = 20) -> str:
        try:
            state = self._enter("container_logs_tail", spec, engine_id)
        except EngineError:
            return ""
        with self._lock:
            item = state.containers.get(engine_id)
            return "\n".join(item.output.splitlines()[-lines:]) if item else ""

    def container_exec(self, spec, *, engine_id: str, command: list[str], timeout: int = 10) -> int:
        state = self._enter("container_exec", spec, engine_id)
        with self._lock:
            item = self._container(state, spec, engine_id, "Health check command")
            return self.behaviour(item.image).exec_code

    def container_stop(self, spec, *, engine_id: str, grace: int = 10, remove: bool = True) -> None:
        state = self._enter("container_stop", spec, engine_id)
        with self._lock:
            item = state.containers.get(engine_id)
            if item is None:
                return
            _close(item)
            if remove:
                del state.containers[engine_id]
            elif item.state == "running":
                item.state, item.exit_code = "exited", 0

    def container_remove(self, spec, *, engine_id: str) -> None:
        """Remove a container at once (also garbage collection's removal: `refuse` makes the engine refuse it)."""
        state = self._enter("container_remove", spec, engine_id)
        if engine_id in self.refuse:
            raise EngineError(f"Remove container {engine_id} failed on {spec.name}: it runs again", host=spec.name)
        with self._lock:
            self.removed_containers.append(engine_id)
            item = state.containers.pop(engine_id, None)
            if item is not None:
                _close(item)

    def container_restart(self, spec, *, engine_id: str, grace: int = 10) -> None:
        state = self._enter("container_restart", spec, engine_id)
        with self._lock:
            item = self._container(state, spec, engine_id, "Restart container")
            if self.behaviour(item.image).exit_code is None:
                item.state = "running"
                if item.port is not None:
                    # As a real engine does, a restart publishes the port anew (another host port).
                    bind = item.port.socket.getsockname()[0]
                    _close(item)
                    item.port = _Port(bind=bind, status=self.behaviour(item.image).http_status, name=item.name)
                    item.host_port = item.port.port

    def containers_list(self, spec, *, labels: dict[str, str], all_states: bool = True) -> list[dict]:
        state = self._enter("containers_list", spec)
        with self._lock:
            return [
                {
                    "engine_id": item.engine_id,
                    "name": item.name,
                    "image": item.image,
                    "state": item.state,
                    "status": "Up" if item.state == "running" else f"Exited ({item.exit_code})",
                    "created": int(item.created),
                    "labels": dict(item.labels),
                    "host_port": item.host_port,
                    "ip": item.ip,
                }
                for item in sorted(state.containers.values(), key=lambda item: item.created)
                if labels.items() <= item.labels.items() and (all_states or item.state == "running")
            ]

    def oneoff_run(self, spec, run: RunSpec, *, timeout: int) -> tuple[int, str]:
        self._enter("oneoff_run", spec, run.name)
        behaviour = self.behaviour(run.image)
        with self._lock:
            self.oneoffs.append(run)
        return behaviour.release_exit, behaviour.release_output

    def swarm_nodes(self, spec) -> list[dict]:
        """The nodes of a manager named in `swarm_managers` (engine name -> nodes); any other engine is no manager."""
        self._enter("swarm_nodes", spec)
        if spec.name not in self.swarm_managers:
            raise NotAManager(f"Engine {spec.name} is not a Swarm manager: This node is not a swarm manager.")
        return list(self.swarm_managers[spec.name])

    def swarm_node_id(self, spec) -> str:
        self._enter("swarm_node_id", spec)
        return self.swarm_node_ids.get(spec.name, "")

    def secrets_sweep(self, spec, *, volume_age: int = 0) -> dict[str, int]:
        self._enter("secrets_sweep", spec)
        return {"holders": 0, "volumes": 0}

    def inspect(self, spec, *, engine_id: str) -> dict:
        state = self._enter("inspect", spec, engine_id)
        with self._lock:
            item = self._container(state, spec, engine_id, "Inspect container")
            return {
                "Id": item.engine_id,
                "Name": f"/{item.name}",
                "Config": {
                    "Labels": dict(item.labels),
                    "Image": item.image,
                    "Env": [f"{k}={v}" for k, v in item.env.items()],
                },
                "State": {"Status": item.state, "ExitCode": item.exit_code, "OOMKilled": item.oom_killed},
            }

    # --- garbage collection (engine/gc.py) -----------------------------------------------------------------------

    def inventory(self, spec, *, inspect_label: str) -> Inventory:
        self._enter("inventory", spec)
        return Inventory(containers=list(self.containers), images=list(self.images))

    def image_remove(self, spec, *, image: EngineImage) -> None:
        self._enter("image_remove", spec, image.image_id)
        if image.image_id in self.refuse:
            raise EngineError(f"Remove image {image.image_id} failed on {spec.name}: in use", host=spec.name)
        self.removed_images.append(image.image_id)

    def build_cache_reclaimable(self, spec) -> int | None:
        self._enter("build_cache_reclaimable", spec)
        return self.cache_bytes

    def build_cache_prune(self, spec) -> int | None:
        self._enter("build_cache_prune", spec)
        self.pruned += 1
        return self.cache_bytes


def _close(item: FakeContainer) -> None:
    if item.port is not None:
        item.port.close()
        item.port = None


_installed: FakeEngine | None = None
_installed_lock = threading.Lock()


def installed() -> FakeEngine:
    """The process's fake engine (made at first use); tests put a fresh one in with `install`."""
    global _installed
    with _installed_lock:
        if _installed is None:
            _installed = FakeEngine()
        return _installed


def install(engine: FakeEngine | None) -> FakeEngine | None:
    """Make `engine` the process's fake engine (None: a fresh one at next use); return the one it replaces."""
    global _installed
    with _installed_lock:
        previous, _installed = _installed, engine
        return previous
