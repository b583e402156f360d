"""Accounts in Debian's chromium: a new user accepts an emailed invitation, sets a password, turns on two-factor
login and logs in again with a TOTP code."""

import os
import re
from base64 import b32decode

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.oath import totp

from tenants.models import Membership, Role
from tenants.services import tenant_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-42"


def test_an_invited_user_joins_turns_on_two_factor_and_logs_in_with_a_code(page, live_server):
    owner = get_user_model().objects.create_user(username="olivia", password=PASSWORD)
    tenant_create(actor=owner, slug="acme", name="Acme Inc")

    # the owner invites nina as a developer
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/t/acme/members/")
    page.fill("#invite-email", "nina@example.com")
    page.select_option("#invite-role", "developer")
    page.click("button:has-text('Send invitation')")
    page.wait_for_selector("text=Invited nina@example.com as developer")
    page.click("button:has-text('Log out')")
    [email] = mail.outbox
    link = re.search(r"https?://\S+/invitations/\S+/", email.body).group(0)

    # nina opens the link, picks a username and a password, and lands in the team
    page.goto(link)
    page.fill("#id_username", "nina")
    page.fill("#id_password1", "nina-passphrase-2026")
    page.fill("#id_password2", "nina-passphrase-2026")
    page.click("button:has-text('Create the account and join')")
    page.wait_for_selector("text=You joined Acme Inc as developer.")
    assert Membership.objects.get(user__username="nina").role == Role.DEVELOPER

    # she turns on two-factor login with the key the page shows
    page.goto(f"{live_server.url}/account/")
    page.click("button:has-text('Set up two-factor login')")
    key = b32decode(page.inner_text("#totp-secret"))
    page.fill("#totp-token", f"{totp(key):06d}")
    page.click("#totp-confirm button[type=submit]")
    page.wait_for_selector("text=Two-factor login is on")
    page.click("button:has-text('Log out')")

    # logging in again takes the password and a code
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "nina")
    page.fill("#id_password", "nina-passphrase-2026")
    page.click("button[type=submit]")
    assert "type the code from your authenticator app" in page.inner_text("main")
    page.fill("#id_password", "nina-passphrase-2026")
    page.fill("#id_otp_token", f"{totp(key, drift=1):06d}")  # the next code: the current one was spent confirming
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "acme" in page.inner_text("main")
