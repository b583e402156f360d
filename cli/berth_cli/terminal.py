"""A remote tty on the local terminal: raw mode, keystrokes out, output in, window size, the remote exit code.

The portal relays the tty over a WebSocket (binary frames both ways; JSON text frames for `resize` and `exit`). In
raw mode every key, Ctrl-C included, goes to the remote process and the remote tty does the echoing and the signals.
Needs the `websockets` package.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from urllib.parse import urlencode, urlsplit

from berth_cli.http import ApiError, Client

READ_BYTES = 4096


def ws_base(client: Client) -> str:
    return client.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def terminal_url(client: Client, path: str, query: dict | None = None) -> str:
    """The WebSocket URL of `path` on this portal, with the local window's size (and `query`) in its query."""
    cols, rows = shutil.get_terminal_size()
    params = [*(query or {}).items(), ("cols", cols), ("rows", rows)]
    return f"{ws_base(client)}{urlsplit(path).path}?{urlencode(params, doseq=True)}"


@contextlib.contextmanager
def raw_mode(fd: int):
    """Put the terminal on `fd` in raw mode for the block (nothing to do when it is not a terminal)."""
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: what was typed ahead still reaches the remote process
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def relay(client: Client, url: str) -> int:
    """Relay the local terminal to the remote tty at `url` until it ends; return its exit code (1 when unknown)."""
    try:
        from websockets.exceptions import InvalidHandshake
        from websockets.sync import client as ws_client
    except ImportError:
        raise ApiError("a terminal needs the websockets package (pip install websockets)") from None
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    try:
        with ws_client.connect(url, additional_headers=headers, compression=None, max_size=None) as socket:
            ended = _session(socket)
    except InvalidHandshake as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", 0) or 0
        message = "the portal refused the terminal: no such run or container, or not yours to use."
        raise ApiError(message, status=status) from None
    except OSError as exc:
        raise ApiError(f"cannot reach {client.base_url}: {exc}") from None
    if ended.get("error"):
        sys.stderr.write(f"\r\n{ended['error']}\n")
    if not ended:
        sys.stderr.write("\r\nThe connection to the terminal was lost.\n")
    code = ended.get("code")
    return code if isinstance(code, int) else 1


def _session(socket) -> dict:
    """Relay until the remote tty ends; return its exit message ({} when the connection dropped first)."""
    from websockets.exceptions import ConnectionClosed

    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    ended: dict = {}

    def keys() -> None:
        while True:
            try:
                data = os.read(stdin, READ_BYTES)
            except OSError:
                return
            if not data:
                return  # stdin closed: nothing more to type; the remote process decides when it ends
            try:
                socket.send(data)
            except ConnectionClosed:
                return

    def resized(*_) -> None:
        cols, rows = shutil.get_terminal_size()
        with contextlib.suppress(ConnectionClosed):
            socket.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGWINCH, resized) if main else None
    try:
        with raw_mode(stdin):
            threading.Thread(target=keys, daemon=True).start()
            with contextlib.suppress(ConnectionClosed):
                for message in socket:
                    if isinstance(message, bytes):
                        os.write(stdout, message)
                        continue
                    with contextlib.suppress(ValueError):
                        payload = json.loads(message)
                        if isinstance(payload, dict) and payload.get("type") == "exit":
                            ended = payload
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
    return ended
