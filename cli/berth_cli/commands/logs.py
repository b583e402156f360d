"""logs: history through the HTTP API, then optionally the live tail (WebSocket, else polling)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import ApiError, Client, quote

PAGE_MAX = 500


def register(verbs, parents) -> None:
    p = verbs.add_parser("logs", parents=[parents.json, parents.tenant, parents.app], help="show an app's logs")
    p.add_argument("-n", "--num", type=int, default=100, help="how many past lines (default 100)")
    p.add_argument("--tail", action="store_true", help="keep following new lines")
    p.add_argument("--process", help="only this process type, e.g. web")
    p.add_argument("--grep", metavar="TEXT", help="only lines containing TEXT")
    p.add_argument("--release", help="only lines of this release (vN)")
    p.add_argument("--poll", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def render(line: dict) -> str:
    """`2026-11-28 02:57:33Z web[3f2a1c0d9e8b]: message`, Heroku's layout."""
    where = line.get("process") or "app"
    container = str(line.get("container") or "")[:12]
    if container:
        where += f"[{container}]"
    return f"{output.when(line.get('timestamp'))} {where}: {str(line.get('line', '')).rstrip(chr(10))}"


def _moment(line: dict):
    value = line.get("timestamp")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _key(line: dict):
    return line.get("id") or (line.get("timestamp"), line.get("container"), line.get("line"))


def chronological(lines: list[dict]) -> list[dict]:
    """Oldest first: the API pages newest first."""
    return sorted(lines, key=lambda line: (str(line.get("timestamp") or ""), line.get("id") or 0))


class Printer:
    """Writes lines once each (as text or JSON Lines), applying the filters the server may not have."""

    def __init__(self, args):
        self.as_json = args.json
        self.process = args.process
        self.grep = args.grep

    def wanted(self, line: dict) -> bool:
        if self.process and line.get("process") not in (None, "", self.process):
            return False
        return not (self.grep and self.grep not in str(line.get("line", "")))

    def write(self, line: dict) -> None:
        if not self.wanted(line):
            return
        sys.stdout.write((json.dumps(line, ensure_ascii=False) if self.as_json else render(line)) + "\n")
        sys.stdout.flush()


def _query(args, *, limit: int, since: str | None = None) -> dict:
    release = args.release[1:] if args.release and args.release[:1] in "vV" else args.release
    return {"process": args.process, "q": args.grep, "release": release, "since": since, "limit": limit}


def run(args, client: Client) -> int:
    if args.num < 0:
        raise UsageError("-n must be 0 or more")
    path = app_path(args.tenant, args.app) + "logs/"
    printer = Printer(args)
    websocket = None if args.poll else _websocket_module()
    if args.tail and websocket is not None:
        return _follow_websocket(websocket, args, client, printer)
    history = []
    if args.num:
        history = client.list(path, _query(args, limit=min(args.num, PAGE_MAX)), limit=args.num)
    history = chronological(history)
    for line in history:
        printer.write(line)
    if args.tail:
        _follow_polling(args, client, path, printer, history)
    return 0


def _follow_polling(args, client: Client, path: str, printer: Printer, history: list[dict]) -> None:
    """Ask for lines since the newest one seen, every `interval` seconds; never print one twice."""
    last = history[-1] if history else None
    since = last.get("timestamp") if last else None
    seen_at_since = {_key(line) for line in history if line.get("timestamp") == since}
    while True:
        time.sleep(args.interval)
        try:
            lines = client.list(path, _query(args, limit=PAGE_MAX, since=since))
        except ApiError as exc:
            if exc.status:  # the API refused: stop with its error
                raise
            continue  # the portal is restarting: try again on the next tick
        for line in chronological(lines):
            stamp, key = line.get("timestamp"), _key(line)
            if since is not None and (_moment(line) or stamp) < (_moment({"timestamp": since}) or since):
                continue
            if stamp == since and key in seen_at_since:
                continue
            if stamp != since:
                since, seen_at_since = stamp, set()
            seen_at_since.add(key)
            printer.write(line)


def _websocket_module():
    try:
        from websockets.sync import client as ws_client
    except ImportError:
        return None
    return ws_client


def _ws_url(args, client: Client, cursor: str | None) -> str:
    base = client.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    url = f"{base}/ws/tenants/{quote(args.tenant)}/apps/{quote(args.app)}/logs/"
    query = {"tail": args.num, "cursor": cursor, "process": args.process}
    return url + _encode(query)


def _encode(query: dict) -> str:
    from urllib.parse import urlencode

    params = {key: value for key, value in query.items() if value not in (None, "")}
    return "?" + urlencode(params) if params else ""


def _lines_of(message) -> list[dict]:
    """Accept a line object, {"lines": [...]}, or {"type": "line", "line": {...}}."""
    if isinstance(message, list):
        return [item for item in message if isinstance(item, dict)]
    if not isinstance(message, dict):
        return []
    if isinstance(message.get("lines"), list):
        return [item for item in message["lines"] if isinstance(item, dict)]
    if isinstance(message.get("line"), dict):
        return [message["line"]]
    if "line" in message:
        return [message]
    return []


def _follow_websocket(ws_client, args, client: Client, printer: Printer) -> int:
    """Follow the live tail; reconnect from the last cursor when the connection drops."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    cursor: str | None = None
    seen_keys: set = set()
    while True:
        try:
            with ws_client.connect(
                _ws_url(args, client, cursor), additional_headers=headers, origin=_origin(client.base_url)
            ) as socket:
                for raw in socket:
                    message = json.loads(raw)
                    if isinstance(message, dict) and message.get("type") == "error":
                        raise ApiError(str(message.get("message") or "the log stream failed"), status=400)
                    for line in _lines_of(message):
                        key = _key(line)
                        if key in seen_keys:
                            continue
                        seen_keys.add(key)
                        cursor = str(line.get("cursor") or line.get("id") or cursor or "") or None
                        printer.write(line)
                    if isinstance(message, dict) and message.get("cursor"):
                        cursor = str(message["cursor"])
        except InvalidHandshake as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(exc, "status_code", 0)
            raise ApiError(f"the log stream refused the connection: {exc}", status=status or 400) from None
        except (ConnectionClosed, OSError):
            if len(seen_keys) > 100_000:
                seen_keys.clear()
        time.sleep(args.interval)


def _origin(base_url: str) -> str:
    """The portal's own origin: the consumer checks it like a browser's."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"
