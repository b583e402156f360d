"""Terminals over a WebSocket: an attached one-off run, and an exec in a running container.

Binary frames carry the tty's bytes both ways. Text frames carry JSON: the client sends {"type": "resize", "cols",
"rows"}; the server sends {"type": "exit", "code", "error"} once the process ended, then closes (1000). A caller the
permission table refuses, or a run or container it cannot see, is refused at the handshake (HTTP 403) before anything
starts. When the client goes away first, a run's container is stopped and removed; BERTH_RUN_TIMEOUT bounds both.
"""

import asyncio
import json
import logging
import threading
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from deployments import selectors
from deployments.services import terminals as services
from portal.errors import ApplicationError, NotFound
from tenants.permissions import Permissions, tenant_readable

logger = logging.getLogger(__name__)

OUTPUT_BYTES = services.OUTPUT_BYTES
REFUSED_LATER = 4409  # authorized, but the run or exec could not start: the exit message says why
MAX_SIZE = 1000


def _size(value, default: int) -> int:
    try:
        return max(1, min(int(value), MAX_SIZE))
    except (TypeError, ValueError):
        return default


def blocking(function):
    """Run sync work that talks to an engine off the thread the other consumers' database calls share."""
    return database_sync_to_async(function, thread_sensitive=False)


class TerminalConsumer(AsyncWebsocketConsumer):
    """Relay one tty; subclasses say how it opens (`open`) and how it ends (`end`)."""

    action = ""

    async def connect(self):
        self.terminal = None
        self.ended = False
        self.output = bytearray()
        self.params = parse_qs(self.scope.get("query_string", b"").decode())
        cols = _size(self.params.get("cols", [None])[-1], 80)
        rows = _size(self.params.get("rows", [None])[-1], 24)
        kwargs = self.scope["url_route"]["kwargs"]
        allowed = await database_sync_to_async(self.authorize)(kwargs)
        if not allowed:
            await self.close()  # before accepting: the handshake is refused (403), the same for hidden and forbidden
            return
        # Accepted before the terminal opens: daphne drops a handshake the application has not accepted within its
        # connect timeout (5 s), and creating an exec or starting a container may take longer on a loaded engine.
        # What the client sends meanwhile waits: a consumer handles its messages one after the other.
        await self.accept()
        try:
            terminal = await blocking(self.open)(cols=cols, rows=rows)
        except ApplicationError as exc:
            self.ended = True
            await self.send(text_data=json.dumps({"type": "exit", "code": None, "error": exc.message}))
            await self.close(code=REFUSED_LATER)
            return
        self.terminal = terminal
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.call_later(settings.BERTH_RUN_TIMEOUT, self._expire)
        threading.Thread(target=self._pump, name=f"terminal-{self.channel_name}", daemon=True).start()

    def authorize(self, kwargs) -> bool:
        """Resolve the tenant and app and check the action; set what `open` needs. False refuses the handshake."""
        user, token = self.scope.get("user"), self.scope.get("token")
        tenant = tenant_readable(user=user, token=token, slug=kwargs["tenant"])
        if tenant is None or not Permissions(user=user, token=token, tenant=tenant).allows(self.action):
            return False
        try:
            self.app = selectors.app_get(tenant=tenant, slug=kwargs["app"])
            self.resolve(kwargs)
        except NotFound:
            return False
        return True

    async def receive(self, text_data=None, bytes_data=None):
        if self.terminal is None or self.ended:
            return
        if bytes_data:
            await asyncio.to_thread(self.terminal.write, bytes_data)
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "resize":
            cols, rows = _size(message.get("cols"), 80), _size(message.get("rows"), 24)
            try:
                await blocking(self.terminal.resize)(cols=cols, rows=rows)
            except Exception as exc:  # a resize racing the end of the process changes nothing
                logger.debug("resize refused: %s", exc)

    async def disconnect(self, code):
        if self.terminal is None or self.ended:
            return
        self.ended = True
        self.deadline.cancel()
        await blocking(self.end)(stop=services.GONE)

    def _pump(self) -> None:
        """Forward what the tty prints until it ends (a thread: the engine's socket blocks)."""
        while True:
            data = self.terminal.read()
            if not data:
                break
            self.output += data
            del self.output[:-OUTPUT_BYTES]
            try:
                asyncio.run_coroutine_threadsafe(self.send(bytes_data=data), self.loop).result()
            except Exception:  # the client is gone: disconnect() ends the terminal
                return
        asyncio.run_coroutine_threadsafe(self._finish(stop=""), self.loop)

    def _expire(self) -> None:
        self.expiry = asyncio.ensure_future(self._finish(stop=f"Stopped after {settings.BERTH_RUN_TIMEOUT} s."))

    async def _finish(self, *, stop: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.deadline.cancel()
        code, error = await blocking(self.end)(stop=stop)
        await self.send(text_data=json.dumps({"type": "exit", "code": code, "error": error}))
        await self.close(code=1000)

    # what subclasses define

    def resolve(self, kwargs) -> None:
        raise NotImplementedError

    def open(self, *, cols: int, rows: int):
        raise NotImplementedError

    def end(self, *, stop: str) -> tuple[int | None, str]:
        raise NotImplementedError


class RunAttachConsumer(TerminalConsumer):
    """WS /ws/tenants/{tenant}/apps/{app}/runs/{number}/?cols=&rows=: the terminal of an attached run."""

    action = "run.attach"

    def resolve(self, kwargs) -> None:
        self.run = selectors.run_get(app=self.app, number=kwargs["run"])
        if self.run.created_by_id != self.scope["user"].pk:
            raise NotFound()  # another member's run: the same refusal as a missing one

    def open(self, *, cols: int, rows: int):
        return services.run_attach(run=self.run, actor=self.scope["user"], cols=cols, rows=rows)

    def end(self, *, stop: str) -> tuple[int | None, str]:
        run = services.run_attached_end(run=self.run, terminal=self.terminal, output=bytes(self.output), stop=stop)
        return run.exit_code, run.error


class ExecConsumer(TerminalConsumer):
    """WS /ws/tenants/{tenant}/apps/{app}/containers/{web.1 or id}/exec/?command=sh&command=-l&cols=&rows="""

    action = "container.exec"

    def resolve(self, kwargs) -> None:
        self.container = selectors.container_find(app=self.app, ref=kwargs["container"])

    def open(self, *, cols: int, rows: int):
        command = self.params.get("command") or ["sh"]
        return services.container_exec_open(
            app=self.app, container=self.container, command=command, actor=self.scope["user"], cols=cols, rows=rows
        )

    def end(self, *, stop: str) -> tuple[int | None, str]:
        return services.container_exec_end(terminal=self.terminal), stop
