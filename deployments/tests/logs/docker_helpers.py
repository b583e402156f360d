"""Helpers of the logs integration tests: Berth-labelled containers and a TCP proxy that can take a sink away."""

import contextlib
import socket
import threading
import uuid

import docker

from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL

TEST_LABEL = "berth.test-logs"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Containers:
    """Start sample containers with Berth's labels straight through the SDK; remove only those at the end."""

    def __init__(self, engine_url: str):
        self.client = docker.DockerClient(base_url=engine_url, timeout=120)
        self.started: list[str] = []

    def run(
        self,
        image: str,
        *,
        tenant: str,
        app: str,
        release: int = 1,
        process: str = "worker",
        command: list[str] | None = None,
        **env,
    ) -> str:
        container = self.client.containers.run(
            image,
            command,
            name=unique("berth-logs-test"),
            detach=True,
            environment={key.upper(): str(value) for key, value in env.items()},
            labels={
                TENANT_LABEL: tenant,
                APP_LABEL: app,
                RELEASE_LABEL: str(release),
                PROCESS_LABEL: process,
                INDEX_LABEL: "1",
                TEST_LABEL: "1",
            },
            log_config={"type": "local"},
            init=True,
        )
        self.started.append(container.id)
        return container.id

    def close(self) -> None:
        for container_id in self.started:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(container_id).remove(force=True)
        self.client.close()


class Proxy:
    """Forward a loopback port to `target`; `stop()` refuses connections and cuts open ones until `start()`."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, dest in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, dest), daemon=True).start()

    def _pipe(self, source: socket.socket, dest: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                dest.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, dest):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
