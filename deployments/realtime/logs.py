"""The live tail of an app's logs over a WebSocket: history from the sink, then live lines, resumable by cursor.

Order of work on connect: join the app's group, then read history, then forward live lines. A line published while
history is read arrives after it and is recognised by its cursor: per container stream the collector publishes in
cursor order, so anything at or below the last cursor already sent for that stream is a duplicate.
"""

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from deployments import selectors
from deployments.logs.records import cursor_container, valid_cursor
from deployments.logs.sinks import SinkUnavailable
from deployments.logs.store import log_search
from deployments.realtime import publisher
from deployments.realtime.events import group_join, logs_group
from portal.errors import NotFound
from tenants.permissions import tenant_readable

DEFAULT_TAIL = 100
MAX_TAIL = 1000
HISTORY_PAGE = 1000
# 1013 "try again later": the sink could not be read; the client reconnects with its cursor.
SINK_DOWN = 1013


class LogConsumer(AsyncJsonWebsocketConsumer):
    """WS /ws/tenants/{tenant}/apps/{app}/logs/?tail=100&cursor=...&process=&release=&q="""

    async def connect(self):
        publisher.register_server_loop(asyncio.get_running_loop())
        params = {key: values[-1] for key, values in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        kwargs = self.scope["url_route"]["kwargs"]
        self.app = await database_sync_to_async(self._authorize)(kwargs["tenant"], kwargs["app"])
        if self.app is None:
            # Closing before accepting refuses the handshake (HTTP 403): the same for a foreign or missing app.
            await self.close()
            return
        self.filters = {
            "process": params.get("process", ""),
            "release": int(params["release"]) if params.get("release", "").isdigit() else None,
            "q": params.get("q", params.get("text", "")),
        }
        resume = params.get("cursor", "")
        resume = resume if valid_cursor(resume) else ""
        try:
            tail = max(0, min(int(params.get("tail", DEFAULT_TAIL)), MAX_TAIL))
        except ValueError:
            tail = DEFAULT_TAIL
        self.sent: dict[str, str] = {}
        self.resume = resume
        self.group = logs_group(app_id=self.app.pk)
        await group_join(self.channel_layer, self.group, self.channel_name)
        await self.accept()
        dropped = await database_sync_to_async(selectors.log_dropped_count)(app=self.app)
        await self.send_json({"type": "status", "dropped": dropped, "cursor": resume or None})
        try:
            await self._send_history(resume=resume, tail=tail)
        except SinkUnavailable as exc:
            await self.send_json({"type": "error", "message": exc.message})
            await self.close(code=SINK_DOWN)

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Clients only listen; whatever they send is ignored."""

    async def log_lines(self, event):
        lines = [line for line in event["lines"] if self._wanted(line) and self._new(line)]
        if lines:
            await self.send_json({"type": "lines", "history": False, "lines": lines, "cursor": lines[-1]["cursor"]})

    # helpers

    def _authorize(self, tenant_slug: str, app_slug: str):
        tenant = tenant_readable(user=self.scope.get("user"), token=self.scope.get("token"), slug=tenant_slug)
        if tenant is None:
            return None
        try:
            app = selectors.app_get(tenant=tenant, slug=app_slug)
        except NotFound:
            return None
        self.tenant = tenant
        return app

    async def _send_history(self, *, resume: str, tail: int) -> None:
        search = database_sync_to_async(log_search)
        if resume:
            after = resume
            while True:
                page = await search(tenant=self.tenant, app=self.app, after=after, limit=HISTORY_PAGE, **self.filters)
                await self._send_history_page(page)
                if len(page) < HISTORY_PAGE:
                    return
                after = page[-1]["cursor"]
        elif tail:
            await self._send_history_page(await search(tenant=self.tenant, app=self.app, limit=tail, **self.filters))

    async def _send_history_page(self, page: list[dict]) -> None:
        lines = [line for line in page if self._new(line)]
        if lines:
            await self.send_json({"type": "lines", "history": True, "lines": lines, "cursor": lines[-1]["cursor"]})

    def _new(self, line: dict) -> bool:
        cursor = line["cursor"]
        stream = cursor_container(cursor)
        if self.resume and cursor <= self.resume:
            return False
        if cursor <= self.sent.get(stream, ""):
            return False
        self.sent[stream] = cursor
        return True

    def _wanted(self, line: dict) -> bool:
        filters = self.filters
        return (
            (not filters["process"] or line["process"] == filters["process"])
            and (filters["release"] is None or line["release"] == filters["release"])
            and (not filters["q"] or filters["q"] in line["line"])
        )
