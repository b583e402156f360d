"""WebSocket authentication and Origin check.

A connection authenticates with the session cookie (browser) or `Authorization: Bearer brt_…` (CLI, scripts). The
Origin check belongs to the cookie: it stops another site's page from opening a socket that the browser signs with
the user's cookie (cross-site WebSocket hijacking). A browser always sends Origin on a WebSocket handshake and cannot
set an Authorization header, so a handshake with a Bearer token and no Origin is no browser's, and the cookie never
authenticates it (the token replaces the session user): it is accepted, as DESIGN.md promises scripts. Any Origin
that is sent must be one of ALLOWED_HOSTS, whichever credentials come with it.
"""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from tenants.selectors import token_authenticate
from tenants.services import token_mark_used


@database_sync_to_async
def _token_user(plaintext: str):
    token = token_authenticate(plaintext=plaintext)
    if token is None or not token.user.is_active:
        return None, None
    token_mark_used(token=token)
    return token.user, token


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


def bearer_of(scope) -> str | None:
    """The plaintext of the handshake's `Authorization: Bearer` header, or None without one."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    parts = value.decode("latin-1").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1]
    return None


class BearerTokenMiddleware(BaseMiddleware):
    """Replace the session user with the token's user when a Bearer header is present; scope["token"] holds it."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["token"] = None
        plaintext = bearer_of(scope)
        if plaintext is not None:
            user, token = await _token_user(plaintext)
            scope["user"], scope["token"] = user or AnonymousUser(), token
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    return AuthMiddlewareStack(BearerTokenMiddleware(inner))


class SessionOriginValidator:
    """Refuse a handshake whose Origin is foreign, or missing unless a Bearer token comes instead of a browser."""

    def __init__(self, inner):
        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        if _header(scope, b"origin") is None and bearer_of(scope) is not None:
            return await self.inner(scope, receive, send)
        return await self.checked(scope, receive, send)


def websocket_application(inner):
    """Wrap the WebSocket routes: the Origin check, then the token or session that says who is calling."""
    return SessionOriginValidator(TokenOrSessionAuthMiddlewareStack(inner))
