"""Publishing stamped lines to the channel-layer group of their app, from the collector's threads.

Redis (production) crosses threads and processes: each publishing thread keeps one event loop of its own. The
in-memory layer (embedded mode) is a set of asyncio queues that belong to the server's event loop, so messages are
handed to that loop, which the consumers register when they connect.
"""

import asyncio
import threading

from channels.layers import InMemoryChannelLayer, get_channel_layer

_server_loop: asyncio.AbstractEventLoop | None = None
_local = threading.local()


def group_name(*, app_id: int) -> str:
    return f"logs.app.{app_id}"


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the event loop consumers run in (needed by the in-memory layer only)."""
    global _server_loop
    _server_loop = loop


# Text per channel-layer event (and so per WebSocket message); a line's metadata counts as LINE_OVERHEAD. A batch of
# 2,000 short lines stays one event; long lines (up to BERTH_LOG_MAX_LINE_KB each) are spread over several, so a
# client with a 1 MiB frame limit (the `websockets` default) keeps its connection.
EVENT_BYTES = 768 * 1024
LINE_OVERHEAD = 150


def publish(*, app_id: int, messages: list[dict]) -> None:
    """Send a batch of line messages to the app's group, in order, in events of at most about EVENT_BYTES.

    A full or absent layer is not the collector's failure.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    for chunk in _chunks(messages):
        _send(layer, group_name(app_id=app_id), {"type": "log.lines", "lines": chunk})


def _chunks(messages: list[dict]):
    chunk: list[dict] = []
    size = 0
    for message in messages:
        text = message["line"]
        # JSON writes a non-ASCII character as \uXXXX: count six bytes for each, then.
        length = (len(text) if text.isascii() else 6 * len(text)) + LINE_OVERHEAD
        if chunk and size + length > EVENT_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += length
    if chunk:
        yield chunk


def _send(layer, group: str, event: dict) -> None:
    coroutine = layer.group_send(group, event)
    if isinstance(layer, InMemoryChannelLayer):
        loop = _server_loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)
        return
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    loop.run_until_complete(coroutine)
