"""WebSocket consumer of a build's log: the stored lines, then the live ones, then the final status."""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from deployments.models import BuildStatus
from deployments.realtime import publisher
from deployments.realtime.events import build_group, group_join
from deployments.selectors import build_for_viewer
from tenants.permissions import tenant_readable

# Close codes (4000-4999 are the application's): the client should not retry these.
NOT_AUTHENTICATED = 4401
NOT_FOUND = 4404
FINISHED = (BuildStatus.SUCCEEDED, BuildStatus.FAILED, BuildStatus.CANCELLED)


@database_sync_to_async
def _build_for(user, token, tenant_slug: str, app_slug: str, number: int):
    """Return the build when the caller may read its tenant; None for a missing or foreign one alike."""
    tenant = tenant_readable(user=user, token=token, slug=tenant_slug)
    if tenant is None:
        return None
    return build_for_viewer(tenant=tenant, app_slug=app_slug, number=number)


class BuildLogConsumer(AsyncJsonWebsocketConsumer):
    """Send {"type": "log", "index", "line"} per line (stored first, then live) and {"type": "status"} at the end."""

    group: str | None = None
    next_index = 0

    async def connect(self):
        publisher.register_server_loop(asyncio.get_running_loop())
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_AUTHENTICATED)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        build = await _build_for(user, self.scope.get("token"), kwargs["tenant"], kwargs["app"], kwargs["number"])
        if build is None:
            await self.close(code=NOT_FOUND)
            return
        # Join before reading the stored log, so no line falls between the two; indexes drop the overlap.
        self.group = build_group(build.pk)
        await group_join(self.channel_layer, self.group, self.channel_name)
        await self.accept()
        build = await _build_for(user, self.scope.get("token"), kwargs["tenant"], kwargs["app"], kwargs["number"])
        for line in build.log.splitlines():
            await self.send_json({"type": "log", "index": self.next_index, "line": line})
            self.next_index += 1
        if build.status in FINISHED:
            await self.send_json({"type": "status", "status": build.status, "error": build.error})
            await self.close()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def build_log(self, message):
        if message["index"] < self.next_index:
            return
        self.next_index = message["index"] + 1
        await self.send_json({"type": "log", "index": message["index"], "line": message["line"]})

    async def build_status(self, message):
        await self.send_json({"type": "status", "status": message["status"], "error": message.get("error", "")})
        if message["status"] in FINISHED:
            await self.close()
