"""Terminals on an engine: a hijacked Engine API connection to a tty (an attached run, or an exec in a container).

The Engine API answers `POST /containers/{id}/attach` and `POST /exec/{id}/start` with `101 UPGRADED` and then
carries the tty's raw bytes both ways on the same connection. Each terminal gets a client of its own: a hijacked
connection must never go back to the pool the other calls share. The first bytes may already sit in the HTTP
response's read buffer with the headers, so reading goes through that buffer (`read1`), writing to its socket.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import docker

from deployments.engine.client import EngineError, EngineSpec, _tls_config, translated

logger = logging.getLogger(__name__)

UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}
READ_BYTES = 64 * 1024
CONTROL_TIMEOUT = 30


class Terminal:
    """Bytes both ways with a tty on an engine, its size, and how it ended; `close` ends the connection."""

    def __init__(self, client: docker.DockerClient, response, *, engine: EngineSpec, engine_id: str, exec_id: str = ""):
        self.client = client
        self.engine = engine
        self.engine_id = engine_id
        self.exec_id = exec_id
        self._response = response
        self._reader = response.raw._fp.fp  # the BufferedReader http.client read the headers through
        self._socket = self._reader.raw._sock
        self._socket.settimeout(None)  # a terminal may sit idle for as long as its user likes
        self._closed = threading.Event()

    def read(self) -> bytes:
        """Return the next bytes the tty printed; b"" once it ended or the connection was closed."""
        try:
            return self._reader.read1(READ_BYTES)
        except (OSError, ValueError):  # closed under our feet: the other side ended the terminal
            return b""

    def write(self, data: bytes) -> None:
        if self._closed.is_set():
            return
        with contextlib.suppress(OSError):  # the tty went away; the reader sees the end and reports it
            self._socket.sendall(data)

    def resize(self, *, cols: int, rows: int) -> None:
        with translated(self.engine.name, "Resize the terminal"):
            if self.exec_id:
                self.client.api.exec_resize(self.exec_id, height=rows, width=cols)
            else:
                self.client.api.resize(self.engine_id, height=rows, width=cols)

    def exit_code(self) -> int | None:
        """The exit code of the exec's process, or of the container once it exited; None while it still runs."""
        with translated(self.engine.name, "Read the exit code"):
            if self.exec_id:
                state = self.client.api.exec_inspect(self.exec_id)
                return None if state.get("Running") else state.get("ExitCode")
            state = self.client.api.inspect_container(self.engine_id)["State"]
            return None if state.get("Running") else state.get("ExitCode")

    def wait(self, *, timeout: int = CONTROL_TIMEOUT) -> int | None:
        """Wait for the container to exit and return its code (an exec's code at once)."""
        if self.exec_id:
            return self.exit_code()
        with translated(self.engine.name, "Wait for the run"):
            return self.client.api.wait(self.engine_id, timeout=timeout).get("StatusCode")

    def close(self) -> None:
        """End the connection (a reader blocked in `read` returns b"") and the terminal's own client."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):  # already shut by the other side
            self._socket.shutdown(socket.SHUT_RDWR)
        self._response.close()
        self.client.close()


def _client(engine: EngineSpec) -> docker.DockerClient:
    return docker.DockerClient(base_url=engine.url, tls=_tls_config(engine), timeout=CONTROL_TIMEOUT)


def _hijacked(client: docker.DockerClient, response) -> None:
    client.api._raise_for_status(response)
    if response.status_code != 101:
        raise docker.errors.APIError(f"the engine answered {response.status_code} instead of switching protocols")


def run_attach(engine: EngineSpec, *, engine_id: str, cols: int = 80, rows: int = 24) -> Terminal:
    """Attach to a created run container's tty (stdin, stdout, stderr), then start it: no first byte is missed."""
    client = _client(engine)
    try:
        with translated(engine.name, f"Attach to run {engine_id[:12]}"):
            api = client.api
            response = api.post(
                api._url("/containers/{0}/attach", engine_id),
                None,
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1},
                headers=UPGRADE,
                stream=True,
            )
            _hijacked(client, response)
            terminal = Terminal(client, response, engine=engine, engine_id=engine_id)
            api.start(engine_id)
            try:
                terminal.resize(cols=cols, rows=rows)
            except EngineError as exc:  # a tty that already exited cannot be resized; its output still counts
                logger.debug("resize of %s refused: %s", engine_id[:12], exc.message)
            return terminal
    except BaseException:
        client.close()
        raise


def exec_open(engine: EngineSpec, *, engine_id: str, command: list[str], cols: int = 80, rows: int = 24) -> Terminal:
    """Start `command` in a running container with a tty of `cols` x `rows`; return its terminal."""
    client = _client(engine)
    try:
        with translated(engine.name, f"Exec in {engine_id[:12]}"):
            api = client.api
            exec_id = api.exec_create(engine_id, command, stdin=True, tty=True)["Id"]
            response = api._post_json(
                api._url("/exec/{0}/start", exec_id),
                headers=UPGRADE,
                data={"Tty": True, "Detach": False, "ConsoleSize": [rows, cols]},
                stream=True,
            )
            _hijacked(client, response)
            return Terminal(client, response, engine=engine, engine_id=engine_id, exec_id=exec_id)
    except BaseException:
        client.close()
        raise
