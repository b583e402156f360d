"""Helpers to talk to the logs WebSocket through the real ASGI application (Origin check and auth included)."""

from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.asgi import application

ORIGIN = b"http://localhost"


def logs_path(tenant: str, app: str, query: str = "") -> str:
    return f"/ws/tenants/{tenant}/apps/{app}/logs/" + (f"?{query}" if query else "")


def token_headers(plaintext: str, origin: bytes = ORIGIN) -> list[tuple[bytes, bytes]]:
    return [(b"origin", origin), (b"authorization", f"Bearer {plaintext}".encode())]


def session_headers(user, origin: bytes = ORIGIN) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    return [(b"origin", origin), (b"cookie", f"sessionid={cookie}".encode())]


def communicator(path: str, headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_lines(ws, count: int, timeout: float = 30) -> tuple[list[dict], list[dict]]:
    """Receive until `count` lines arrived; return (lines, every message)."""
    lines: list[dict] = []
    messages: list[dict] = []
    while len(lines) < count:
        message = await ws.receive_json_from(timeout=timeout)
        messages.append(message)
        if message["type"] == "lines":
            lines.extend(message["lines"])
    return lines, messages


async def receive_nothing(ws, timeout: float = 0.5) -> bool:
    return await ws.receive_nothing(timeout=timeout)
