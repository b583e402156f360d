"""Token digests against a known answer: HMAC-SHA256 keyed by BERTH_TOKEN_KEY, not a plain hash.

The expected digest was computed outside Berth, once, and is written here as a literal:

    printf '%s' 'brt_knownanswer0123456789abcdefghijklmnopqrstuv' \
        | openssl dgst -sha256 -hmac 'berth-test-token-key'

An unkeyed SHA-256 of the same plaintext is 42c1e707...; a digest that ignored the key, or a key other than the
setting, would not give the literal below.
"""

import pytest
from rest_framework.test import APIClient

from tenants.models import ApiToken
from tenants.selectors import token_authenticate
from tenants.tests.factories import UserFactory
from tenants.tokens import token_digest, token_generate, token_matches

KEY = "berth-test-token-key"
PLAINTEXT = "brt_knownanswer0123456789abcdefghijklmnopqrstuv"
DIGEST = "0afdbc2cc3acd0ce422adf8f1b44cac53e8424d2f2bc55cac7e60eec1041a766"


def test_the_digest_is_the_hmac_sha256_of_the_token_keyed_by_the_setting(settings):
    settings.BERTH_TOKEN_KEY = KEY

    assert token_digest(PLAINTEXT) == DIGEST
    assert token_matches(PLAINTEXT, DIGEST)


def test_another_key_gives_another_digest(settings):
    settings.BERTH_TOKEN_KEY = KEY + "-rotated"

    assert token_digest(PLAINTEXT) != DIGEST
    assert not token_matches(PLAINTEXT, DIGEST)


def test_a_generated_token_carries_its_lookup_prefix_and_keyed_digest(settings):
    settings.BERTH_TOKEN_KEY = KEY

    plaintext, prefix, digest = token_generate()

    assert plaintext.startswith("brt_")
    assert prefix == plaintext[4:12]
    assert len(digest) == 64
    assert digest == token_digest(plaintext)


@pytest.mark.django_db
def test_a_token_stored_with_the_known_digest_authenticates_only_under_its_key(settings):
    # given: a token row as the service would have stored it under KEY
    user = UserFactory(username="kat")
    token = ApiToken.objects.create(user=user, digest=DIGEST, prefix=PLAINTEXT[4:12], scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {PLAINTEXT}")

    # when
    settings.BERTH_TOKEN_KEY = KEY
    found = token_authenticate(plaintext=PLAINTEXT)
    answered = client.get("/api/v1/tokens/").status_code
    settings.BERTH_TOKEN_KEY = KEY + "-rotated"
    found_under_another_key = token_authenticate(plaintext=PLAINTEXT)
    answered_under_another_key = client.get("/api/v1/tokens/").status_code

    # then
    assert found == token
    assert answered == 200
    assert found_under_another_key is None
    assert answered_under_another_key == 401
