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


def publish(*, app_id: int, messages: list[dict]) -> None:
    """Send one batch of line messages to the app's group; a full or absent layer is not the collector's failure."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    event = {"type": "log.lines", "lines": messages}
    coroutine = layer.group_send(group_name(app_id=app_id), event)
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
