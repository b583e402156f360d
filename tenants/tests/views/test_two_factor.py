"""Two-factor login with TOTP (django-otp): set up with a first code, log in with a code, a team that requires it,
turning it off with a code. API tokens keep working."""

import re
import time
from base64 import b32decode, b32encode
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tenants.models import AuditEvent, Tenant
from tenants.services import token_create

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def code(key: bytes, drift: int = 0) -> str:
    """The authenticator app's code now (drift=1: the next one, which the device still accepts after this one)."""
    return f"{totp(key, drift=drift):06d}"


def _turn_on(client, user) -> bytes:
    client.force_login(user)
    client.post("/account/two-factor/", {"action": "start"})
    page = client.get("/account/")
    key = b32decode(page.context["totp_secret"])
    confirmed = client.post("/account/two-factor/", {"action": "confirm", "token": code(key)}, follow=True)
    assert _messages(confirmed) == ["Two-factor login is on: from now on, logging in takes a code too."]
    return key


def _login(client, username, password="x", token=""):
    return client.post("/login/", {"username": username, "password": password, "otp_token": token}, follow=True)


def test_setting_up_shows_the_key_and_a_wrong_code_turns_nothing_on(client, team):
    client.force_login(team["developer"])

    client.post("/account/two-factor/", {"action": "start"})
    page = client.get("/account/")
    wrong = client.post("/account/two-factor/", {"action": "confirm", "token": "000000"}, follow=True)

    secret = page.context["totp_secret"]
    assert f'<code id="totp-secret">{secret}</code>' in page.content.decode()
    assert "otpauth://totp/" in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert _messages(wrong) == ["That code is not right: type the one your app shows now."]
    assert TOTPDevice.objects.filter(user=team["developer"], confirmed=True).count() == 0


def test_setting_up_shows_the_key_as_a_qr_code_drawn_by_the_portal(client, team):
    client.force_login(team["developer"])

    client.post("/account/two-factor/", {"action": "start"})
    page = client.get("/account/").content.decode()

    device = TOTPDevice.objects.get(user=team["developer"], confirmed=False)
    svg = re.search(r'<div id="totp-qr">(.*?)</div>', page, re.S).group(1)
    # The code carries the device's otpauth:// URL, whose secret is the key typed below it.
    assert svg == segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, title="Two-factor key")
    assert parse_qs(urlsplit(device.config_url).query)["secret"] == [b32encode(device.bin_key).decode()]
    assert svg.startswith("<svg") and svg.count("<svg") == 1
    assert "<script" not in svg and "href" not in svg


def test_with_two_factor_on_logging_in_takes_a_code(client, team):
    key = _turn_on(client, team["developer"])
    client.logout()

    without = _login(client, "dana")
    wrong = _login(client, "dana", token="123456")
    time.sleep(1.1)  # django-otp throttles a device for a second after a wrong code
    right = _login(client, "dana", token=code(key, drift=1))

    assert "type the code from your authenticator app" in without.content.decode()
    assert "That code is not right" in wrong.content.decode()
    assert right.redirect_chain == [("/", 302)]
    assert right.wsgi_request.user.is_verified()
    assert AuditEvent.objects.filter(action="user.two_factor_on", tenant=team["tenant"]).count() == 1


def test_a_user_without_two_factor_logs_in_with_the_password_alone(client, team):
    response = _login(client, "victor")

    assert response.redirect_chain == [("/", 302)]
    assert not response.wsgi_request.user.is_verified()


def test_an_owner_requires_two_factor_and_members_without_it_are_refused_the_teams_pages(client, team):
    client.force_login(team["owner"])
    refused = client.post("/t/acme/settings/two-factor/", {"required": "on"}, follow=True)
    assert _messages(refused) == [
        "Turn on two-factor login for your own account first, or you would lock yourself out."
    ]
    _turn_on(client, team["owner"])

    required = client.post("/t/acme/settings/two-factor/", {"required": "on"}, follow=True)
    owner_page = client.get("/t/acme/apps/")  # the owner's session is verified
    client.force_login(team["developer"])
    member_page = client.get("/t/acme/")
    _, plaintext = token_create(user=team["developer"], scopes=["read"], tenant=team["tenant"])
    api = APIClient().get("/api/v1/tenants/acme/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert _messages(required) == ["Members now need two-factor login for this team."]
    assert Tenant.objects.get(slug="acme").require_two_factor is True
    assert owner_page.status_code == 405  # the page exists for the owner (POST only): not refused
    assert member_page.status_code == 403
    assert "Acme Inc requires two-factor login: turn it on under Your account" in member_page.content.decode()
    assert api.status_code == 200


def test_an_admin_cannot_change_the_requirement(client, team):
    client.force_login(team["admin"])

    page = client.get("/t/acme/settings/").content.decode()
    # tenant.require_two_factor is an owner's action: the page shows no form, and a forged post is refused.
    response = client.post("/t/acme/settings/two-factor/", {"required": "on"})

    assert "owners decide" in page
    assert response.status_code == 404
    assert Tenant.objects.get(slug="acme").require_two_factor is False


def test_turning_off_takes_a_current_code(client, team):
    key = _turn_on(client, team["developer"])

    wrong = client.post("/account/two-factor/", {"action": "off", "token": "999999"}, follow=True)
    time.sleep(1.1)  # django-otp throttles a device for a second after a wrong code
    right = client.post("/account/two-factor/", {"action": "off", "token": code(key, drift=1)}, follow=True)

    assert _messages(wrong) == ["That code is not right: two-factor login stays on."]
    assert _messages(right) == ["Two-factor login is off."]
    assert TOTPDevice.objects.filter(user=team["developer"]).count() == 0
