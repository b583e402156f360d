"""WebSocket consumer of a deployment's progress, live."""

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from deployments import selectors
from deployments.models import Deployment
from deployments.realtime import publisher
from deployments.realtime.events import deployment_group, deployment_payload, group_join
from tenants.permissions import tenant_readable

# Close codes (4000-4999 are the application's): the client should not retry these.
NOT_AUTHENTICATED = 4401
NOT_FOUND = 4404


@database_sync_to_async
def _deployment_for(user, token, tenant_slug: str, app_slug: str, deployment_id: str) -> Deployment | None:
    """Return the deployment when the caller may read its tenant; None for a missing or foreign one alike."""
    tenant = tenant_readable(user=user, token=token, slug=tenant_slug)
    if tenant is None or not deployment_id.isdigit():
        return None
    return selectors.deployment_for_viewer(tenant=tenant, app_slug=app_slug, deployment_id=int(deployment_id))


class DeploymentProgressConsumer(AsyncJsonWebsocketConsumer):
    """Send the deployment's current state, then every change the worker publishes."""

    group: str | None = None

    async def connect(self):
        publisher.register_server_loop(asyncio.get_running_loop())
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_AUTHENTICATED)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        deployment = await _deployment_for(
            user, self.scope.get("token"), kwargs["tenant"], kwargs["app"], kwargs["deployment"]
        )
        if deployment is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = deployment_group(deployment.pk)
        await group_join(self.channel_layer, self.group, self.channel_name)
        await self.accept()
        await self.send_json(deployment_payload(deployment))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def deployment_event(self, message):
        await self.send_json(message["event"])
