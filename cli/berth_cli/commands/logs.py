"""logs: history through the HTTP API, then optionally the live tail (WebSocket, else polling).

The logs API pages by the lines' own cursors: a page holds lines oldest first, `next` asks for the lines after
the newest one returned (poll it for new lines) and `previous` for older ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from urllib.parse import urlencode, urlsplit

from berth_cli import output
from berth_cli.commands import app_path
from berth_cli.errors import UsageError
from berth_cli.http import ApiError, Client, quote

PAGE_MAX = 1000
REMEMBERED = 10_000  # cursors kept to recognise a line sent twice (history overlapping the live tail)


def register(verbs, parents) -> None:
    p = verbs.add_parser("logs", parents=[parents.json, parents.tenant, parents.app], help="show an app's logs")
    p.add_argument("-n", "--num", type=int, default=100, help="how many past lines (default 100)")
    p.add_argument("--tail", action="store_true", help="keep following new lines")
    p.add_argument("--process", help="only this process type, e.g. web")
    p.add_argument("--grep", metavar="TEXT", help="only lines containing TEXT")
    p.add_argument("--release", metavar="vN", help="only lines of this release")
    p.add_argument("--poll", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def render(line: dict) -> str:
    """`2026-11-28 02:57:33Z web.1[3f2a1c0d9e8b]: message`, Heroku's layout."""
    where = line.get("process") or "app"
    if line.get("index") is not None:
        where += f".{line['index']}"
    container = str(line.get("container") or "")[:12]
    if container:
        where += f"[{container}]"
    return f"{output.when(line.get('timestamp'))} {where}: {str(line.get('line', '')).rstrip(chr(10))}"


class Printer:
    """Writes each line once (as text or JSON Lines), whatever overlap the server sends."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self._seen: set = set()
        self._order: deque = deque()

    def write(self, line: dict) -> None:
        key = line.get("cursor") or (line.get("timestamp"), line.get("container"), line.get("line"))
        if key in self._seen:
            return
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > REMEMBERED:
            self._seen.discard(self._order.popleft())
        sys.stdout.write((json.dumps(line, ensure_ascii=False) if self.as_json else render(line)) + "\n")
        sys.stdout.flush()


def _filters(args) -> dict:
    release = args.release[1:] if args.release and args.release[:1] in ("v", "V") else args.release
    if release and not release.isdigit():
        raise UsageError(f"expected a release like v3, got {args.release!r}")
    return {"process": args.process, "q": args.grep, "release": release}


def history(client: Client, path: str, filters: dict, count: int) -> tuple[list[dict], str | None]:
    """Return the newest `count` lines, oldest first, and the URL that polls for the lines after them."""
    answer = client.get(path, query={**filters, "limit": max(1, min(count, PAGE_MAX))})
    lines, following, older = list(answer.get("results") or []), answer.get("next"), answer.get("previous")
    while len(lines) < count and older:
        page = client.get(older)
        if not page.get("results"):
            break
        lines = list(page["results"]) + lines
        older = page.get("previous")
    return (lines[-count:] if count else []), following


def run(args, client: Client) -> int:
    if args.num < 0:
        raise UsageError("-n must be 0 or more")
    path = app_path(args.tenant, args.app) + "logs/"
    filters = _filters(args)
    printer = Printer(args.json)
    websocket = None if args.poll else _websocket_module()
    if args.tail and websocket is not None and _follow_websocket(websocket, args, client, filters, printer):
        return 0
    if not args.num and not args.tail:
        return 0
    lines, following = history(client, path, filters, args.num)
    for line in lines:
        printer.write(line)
    if args.tail:
        _follow_polling(args, client, path, filters, following, printer)
    return 0


def _follow_polling(args, client: Client, path: str, filters: dict, following: str | None, printer: Printer):
    """Every `interval` seconds ask for the lines after the last cursor (the newest lines while there are none)."""
    while True:
        time.sleep(args.interval)
        try:
            answer = client.get(following) if following else client.get(path, query={**filters, "limit": PAGE_MAX})
        except ApiError as exc:
            if exc.status and exc.status != 503:  # refused (not "try again later"): stop with the error
                raise
            continue
        for line in answer.get("results") or []:
            printer.write(line)
        following = answer.get("next") or following


def _websocket_module():
    try:
        from websockets.sync import client as ws_client
    except ImportError:
        return None
    return ws_client


def ws_url(client: Client, args, filters: dict, cursor: str | None) -> str:
    base = client.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    query = {"tail": args.num, "cursor": cursor, **filters}
    params = {key: value for key, value in query.items() if value not in (None, "")}
    url = f"{base}/ws/tenants/{quote(args.tenant)}/apps/{quote(args.app)}/logs/"
    return url + ("?" + urlencode(params) if params else "")


def _follow_websocket(ws_client, args, client: Client, filters: dict, printer: Printer) -> bool:
    """Follow the live tail: {"type": "lines", "lines": [...], "cursor"}; reconnect from the last cursor.

    Return False, having printed nothing, when the portal does not speak WebSocket (a plain WSGI server): the
    caller then polls the HTTP API.
    """
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    parts = urlsplit(client.base_url)
    origin = f"{parts.scheme}://{parts.netloc}"  # the consumer checks the Origin as it would a browser's
    cursor: str | None = None
    while True:
        try:
            with ws_client.connect(
                ws_url(client, args, filters, cursor), additional_headers=headers, origin=origin
            ) as socket:
                for raw in socket:
                    message = json.loads(raw)
                    if not isinstance(message, dict):
                        continue
                    if message.get("type") == "error":
                        output.note(f"berth logs: {message.get('message')}; reconnecting")
                    for line in message.get("lines") or []:
                        printer.write(line)
                        cursor = line.get("cursor") or cursor
                    cursor = message.get("cursor") or cursor
        except InvalidHandshake as exc:
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None) or getattr(exc, "status_code", None) or 400
            if status in (401, 403):
                raise ApiError(
                    "the log stream refused the connection: no such app, or your token cannot read it.", status=status
                ) from None
            if cursor is None:
                output.note(f"berth logs: no WebSocket at {client.base_url} ({exc}); polling instead")
                return False
            raise ApiError(f"the log stream refused the connection: {exc}", status=status) from None
        except (ConnectionClosed, OSError):
            pass  # the portal restarted or the network dropped: resume from the cursor
        time.sleep(args.interval)
