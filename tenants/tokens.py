"""API token material: generation, HMAC digests and constant-time verification."""

import hashlib
import hmac
import secrets

from django.conf import settings

TOKEN_PREFIX = "brt_"  # noqa: S105 (a public marker, not a secret)
_LOOKUP_LEN = 8


def token_generate() -> tuple[str, str, str]:
    """Return (plaintext, lookup prefix, digest) for a new token."""
    body = secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
    plaintext = TOKEN_PREFIX + body
    return plaintext, body[:_LOOKUP_LEN], token_digest(plaintext)


def token_digest(plaintext: str) -> str:
    key = settings.BERTH_TOKEN_KEY.encode()
    return hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()


def token_lookup_prefix(plaintext: str) -> str | None:
    """Return the lookup prefix of a well-formed token, else None."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) < len(TOKEN_PREFIX) + 32 or len(plaintext) > 100:
        return None
    return plaintext[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + _LOOKUP_LEN]


def token_matches(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(plaintext), digest)
