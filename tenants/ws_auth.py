"""WebSocket authentication: the session cookie (browser) or `Authorization: Bearer brt_…` (CLI, scripts)."""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from tenants.selectors import token_authenticate
from tenants.services import token_mark_used


@database_sync_to_async
def _token_user(plaintext: str):
    token = token_authenticate(plaintext=plaintext)
    if token is None or not token.user.is_active:
        return None, None
    token_mark_used(token=token)
    return token.user, token


class BearerTokenMiddleware(BaseMiddleware):
    """Replace the session user with the token's user when a Bearer header is present; scope["token"] holds it."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["token"] = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                parts = value.decode("latin-1").split()
                if len(parts) == 2 and parts[0].lower() == "bearer":
                    user, token = await _token_user(parts[1])
                    if user is None:
                        from django.contrib.auth.models import AnonymousUser

                        user = AnonymousUser()
                    scope["user"], scope["token"] = user, token
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    return AuthMiddlewareStack(BearerTokenMiddleware(inner))
