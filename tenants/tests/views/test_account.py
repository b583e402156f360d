"""Account pages: password change, and API tokens shown once, revoked with a confirmation."""

import pytest
from django.contrib.auth import get_user_model

from tenants.models import ApiToken, AuditEvent
from tenants.selectors import token_authenticate

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_a_user_changes_the_password_and_stays_logged_in(client, team):
    client.force_login(team["developer"])

    response = client.post(
        "/account/",
        {"old_password": "x", "new_password1": "a-long-new-passphrase-7", "new_password2": "a-long-new-passphrase-7"},
        follow=True,
    )

    assert _messages(response) == ["Your password was changed."]
    assert get_user_model().objects.get(username="dana").check_password("a-long-new-passphrase-7")
    assert client.get("/account/").status_code == 200


def test_a_wrong_old_password_is_refused_next_to_the_field(client, team):
    client.force_login(team["developer"])

    response = client.post(
        "/account/",
        {"old_password": "nope", "new_password1": "a-long-new-pass-7", "new_password2": "a-long-new-pass-7"},
    )

    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    assert get_user_model().objects.get(username="dana").check_password("x")


def test_a_token_is_shown_once_with_a_copy_button_and_works(client, team):
    client.force_login(team["developer"])

    created = client.post(
        "/account/tokens/",
        {"name": "ci", "scopes": ["read", "deploy"], "tenant": "acme", "expires_in": "30"},
        follow=True,
    )
    plaintext = created.context["plaintext"]
    reloaded = client.get("/account/tokens/")

    token = ApiToken.objects.get(user=team["developer"])
    assert created.redirect_chain == [("/account/tokens/", 302)]
    assert plaintext.startswith("brt_")
    assert f'<code id="new-token">{plaintext}</code>' in created.content.decode()
    assert b'data-copy="#new-token"' in created.content
    assert created["Cache-Control"] == "no-store"
    assert plaintext not in reloaded.content.decode()
    assert reloaded.context["plaintext"] == ""
    assert (token.name, token.scopes, token.tenant.slug) == ("ci", ["deploy", "read"], "acme")
    assert 29 <= (token.expires_at - token.created_at).days <= 30
    assert token_authenticate(plaintext=plaintext) == token
    assert ApiToken.objects.count() == 1


def test_a_token_wider_than_the_role_is_refused(client, team):
    client.force_login(team["viewer"])

    response = client.post("/account/tokens/", {"scopes": ["admin"], "tenant": "acme", "expires_in": ""})

    assert _messages(response) == ["No token created: Scopes wider than your role: admin."]
    assert ApiToken.objects.count() == 0


def test_a_token_for_a_team_i_am_not_in_is_refused_by_the_form(client, team, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))

    response = client.post("/account/tokens/", {"scopes": ["read"], "tenant": "acme", "expires_in": ""})

    assert "tenant" in response.context["form"].errors
    assert ApiToken.objects.count() == 0


def test_revoking_a_token_stops_it_and_only_its_owner_may(client, team):
    client.force_login(team["developer"])
    created = client.post("/account/tokens/", {"name": "ci", "scopes": ["read"], "expires_in": "7"}, follow=True)
    plaintext = created.context["plaintext"]
    token = ApiToken.objects.get()

    client.force_login(team["owner"])
    foreign = client.post(f"/account/tokens/{token.pk}/revoke/")
    client.force_login(team["developer"])
    page = client.get("/account/tokens/").content.decode()
    revoked = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True)

    assert foreign.status_code == 404
    assert 'data-confirm="Revoke ci? Scripts using it stop working."' in page
    assert _messages(revoked) == ["Revoked ci."]
    assert token_authenticate(plaintext=plaintext) is None
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1
