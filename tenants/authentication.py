"""Bearer-token authentication for the API."""

from rest_framework import authentication, exceptions

from tenants.selectors import token_authenticate
from tenants.services import token_mark_used


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer brt_…`; request.auth is the ApiToken."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use `Bearer brt_…`.")
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = token_authenticate(plaintext=plaintext)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
