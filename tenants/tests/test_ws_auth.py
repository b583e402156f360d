"""WebSocket authentication: a Bearer token sets the user and scope["token"]; a bad one leaves the caller anonymous."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from tenants.models import ApiToken, Role
from tenants.services import token_create, token_revoke
from tenants.tests.factories import ApiTokenFactory, MembershipFactory
from tenants.ws_auth import TokenOrSessionAuthMiddlewareStack


class WhoAmI(JsonWebsocketConsumer):
    def connect(self):
        self.accept()
        token = self.scope["token"]
        self.send_json({"user": self.scope["user"].get_username(), "token": token.pk if token else None})


def _who(headers) -> dict:
    async def run():
        communicator = WebsocketCommunicator(TokenOrSessionAuthMiddlewareStack(WhoAmI.as_asgi()), "/ws/", headers)
        connected, _ = await communicator.connect()
        assert connected
        answer = await communicator.receive_json_from()
        await communicator.disconnect()
        return answer

    # A thread of its own: a browser test of the same session may have left an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(async_to_sync(run)).result(timeout=60)


@pytest.fixture
def alice():
    return MembershipFactory(user__username="alice", role=Role.DEVELOPER).user


@pytest.mark.django_db(transaction=True)
def test_a_valid_token_authenticates_and_is_marked_used(alice):
    token, plaintext = token_create(user=alice, scopes=["read"])

    answer = _who([(b"authorization", f"Bearer {plaintext}".encode())])

    assert answer == {"user": "alice", "token": token.pk}
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("state", ["expired", "revoked", "garbage"])
def test_an_expired_revoked_or_unknown_token_is_anonymous(alice, state):
    if state == "expired":
        plaintext = ApiTokenFactory(user=alice, expires_at=timezone.now() - timedelta(seconds=1)).plaintext
    elif state == "revoked":
        token, plaintext = token_create(user=alice, scopes=["read"])
        token_revoke(actor=alice, token=token)
    else:
        plaintext = "brt_" + "x" * 43

    answer = _who([(b"authorization", f"Bearer {plaintext}".encode())])

    assert answer == {"user": "", "token": None}
