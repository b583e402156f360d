"""The one way sync code publishes to the channel layer: the collector's threads, the build worker, rollout pools.

Redis (production) crosses threads and processes: each publishing thread keeps one event loop of its own, so the
layer keeps its connection instead of opening one per message (about 20 ms each through async_to_sync). The
in-memory layer (embedded mode) is a set of asyncio queues that belong to the server's event loop, so its messages
are handed to that loop, which every consumer registers when it connects; with no server loop known (a test that
drives a consumer from its own loop), async_to_sync reaches the caller's outer loop.

A live viewer missing a message never fails the work that published it: what is published is also stored.
"""

import asyncio
import logging
import queue
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 10

_server_loop: asyncio.AbstractEventLoop | None = None
_local = threading.local()


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the event loop consumers run in (needed by the in-memory layer only)."""
    global _server_loop
    _server_loop = loop


def send(group: str, event: dict) -> None:
    """Send one event to a group and wait until the layer took it; a failure is logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _send(layer, group, event)
    except Exception:  # the layer is a side channel: log it, keep working
        logger.warning("could not publish to %s", group, exc_info=True)


def _send(layer, group: str, event: dict) -> None:
    if isinstance(layer, InMemoryChannelLayer):
        loop = _server_loop
        if loop is None or loop.is_closed():
            async_to_sync(layer.group_send)(group, event)
            return
        coroutine = layer.group_send(group, event)
        if _running_loop() is loop:  # called on the server's own thread: waiting would block the loop forever
            loop.create_task(coroutine)
            return
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=SEND_TIMEOUT)
        return
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    loop.run_until_complete(layer.group_send(group, event))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Background:
    """Send events in order from one thread, off the caller's path (a rollout does not wait for its watchers)."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def put(self, group: str, event: dict) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="berth-publisher", daemon=True)
                self.thread.start()
        self.queue.put((group, event))

    def _run(self) -> None:
        while True:
            group, event = self.queue.get()
            send(group, event)


_background = _Background()


def send_soon(group: str, event: dict) -> None:
    """Queue one event for a background thread that sends in order; return at once."""
    _background.put(group, event)
