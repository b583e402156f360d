"""HAProxy's runtime API: the admin socket of the current worker and the master's CLI, in interactive mode."""

from __future__ import annotations

import socket
from pathlib import Path

PROMPTS = (b"\n> ", b"\nmaster> ")


class CliError(Exception):
    """The socket did not answer, or HAProxy refused a command (the message is HAProxy's)."""


class Cli:
    """One interactive (`prompt`) connection to a HAProxy CLI socket, reopened when it breaks."""

    def __init__(self, path: Path, *, timeout: float = 10.0):
        self.path = Path(path)
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
            sock.sendall(b"prompt\n")
            self._read(sock)
        except OSError as error:
            sock.close()
            raise CliError(f"HAProxy's socket {self.path} does not answer: {error}") from error
        return sock

    @staticmethod
    def _read(sock: socket.socket) -> str:
        """Read one answer: everything up to the prompt ("> " on a worker, "master> " on the master)."""
        data = b""
        while True:
            chunk = sock.recv(262144)
            if not chunk:
                raise OSError("connection closed")
            data += chunk
            for prompt in PROMPTS:
                if data.endswith(prompt) or data == prompt[1:]:
                    return data[: max(0, len(data) - len(prompt))].decode()

    def send(self, command: str, payload: str | None = None) -> str:
        """Run one command (with a `<<` payload when given) and return its output, reconnecting once if needed."""
        line = command if payload is None else f"{command} <<\n{payload.rstrip()}\n"
        for attempt in (1, 2):
            if self._sock is None:
                self._sock = self._connect()
            try:
                self._sock.sendall(line.encode() + b"\n")
                return self._read(self._sock)
            except OSError as error:
                self.close()
                if attempt == 2:
                    raise CliError(
                        f"HAProxy's socket {self.path} broke on {command.split(' <<')[0]!r}: {error}"
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
