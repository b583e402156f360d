"""Tenant isolation of logs through a real daphne: another tenant gets 0 of 10,000 lines, a foreign Origin nothing."""

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient
from websockets.asyncio.client import connect

from deployments.tests.factories import AppFactory, MembershipFactory, TenantFactory
from deployments.tests.logs.docker_helpers import unique
from deployments.tests.logs.server import Daphne
from tenants.models import Role
from tenants.services import token_create

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

LINES = 10_000


@pytest.fixture
def daphne():
    server = Daphne()
    yield server
    server.close()


def _tenant_with_app(prefix: str):
    tenant = TenantFactory(slug=unique(prefix))
    AppFactory(tenant=tenant, slug="web")
    membership = MembershipFactory(tenant=tenant, role=Role.OWNER)
    _, token = token_create(user=membership.user, scopes=["read", "write", "deploy", "admin"], tenant=tenant)
    return tenant, token


def _logs_path(tenant, query="tail=100") -> str:
    return f"/ws/tenants/{tenant.slug}/apps/web/logs/?{query}"


async def _handshake_status(url: str, token: str, origin: str) -> int:
    try:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, origin=origin):
            return 101
    except websockets.exceptions.InvalidStatus as refused:
        return refused.response.status_code


def _numbers(lines: list[dict]) -> list[int]:
    return [int(m["line"].split()[1]) for m in lines if m["stream"] == "stdout" and m["line"].startswith("line ")]


def test_another_tenant_gets_none_of_ten_thousand_lines(daphne, containers, collector, sample_image):
    acme, acme_token = _tenant_with_app("acme")
    globex, globex_token = _tenant_with_app("globex")
    image = sample_image("worker")

    async def scenario():
        headers = {"Authorization": f"Bearer {acme_token}"}
        own_headers = {"Authorization": f"Bearer {globex_token}"}
        foreign = await _handshake_status(daphne.ws_url(_logs_path(acme)), globex_token, daphne.origin)
        bad_origin = await _handshake_status(daphne.ws_url(_logs_path(acme)), acme_token, "http://evil.example")
        async with (
            connect(daphne.ws_url(_logs_path(acme)), additional_headers=headers, origin=daphne.origin) as owner,
            connect(daphne.ws_url(_logs_path(globex)), additional_headers=own_headers, origin=daphne.origin) as other,
        ):
            # Both are subscribed once their status arrives.
            await owner.recv()
            await other.recv()
            await sync_to_async(containers.run, thread_sensitive=False)(
                image, tenant=acme.slug, app="web", lines_count=LINES, lines_interval=0, lines_exit=1
            )
            received: list[dict] = []
            last = 0
            while last < LINES:
                message = json.loads(await asyncio.wait_for(owner.recv(), 90))
                if message["type"] == "lines":
                    received.extend(message["lines"])
                    last = (_numbers(message["lines"]) or [last])[-1]
            leaked: list[dict] = []
            # The other tenant's socket was subscribed all along: whatever it got is already queued.
            try:
                while True:
                    message = json.loads(await asyncio.wait_for(other.recv(), 1))
                    leaked.extend(message.get("lines", []))
            except TimeoutError:
                pass
        return foreign, bad_origin, received, leaked

    foreign, bad_origin, received, leaked = asyncio.run(scenario())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {globex_token}")
    foreign_search = api.get(f"/api/v1/tenants/{acme.slug}/apps/web/logs/", {"q": "line"})
    own_search = api.get(f"/api/v1/tenants/{globex.slug}/apps/web/logs/", {"q": "line", "limit": 1000})

    assert foreign == 403
    assert bad_origin == 403
    assert _numbers(received) == list(range(1, LINES + 1))
    assert leaked == []
    assert foreign_search.status_code == 404
    assert own_search.json()["results"] == []
