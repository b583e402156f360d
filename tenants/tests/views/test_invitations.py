"""Invitations by email (a signed, expiring link with a role) and password reset by email."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tenants.models import AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _link(message) -> str:
    return re.search(r"http://testserver(/\S+)", message.body).group(1)


def _invite(client, team, email="nina@example.com", role="developer"):
    client.force_login(team["admin"])
    return client.post("/t/acme/members/invite/", {"email": email, "role": role}, follow=True)


def test_an_admin_invites_by_email_and_a_new_user_joins_with_the_role(client, team):
    sent = _invite(client, team)
    [email] = mail.outbox
    link = _link(email)
    client.logout()

    page = client.get(link)
    joined = client.post(
        link, {"username": "nina", "password1": "a-fine-passphrase-9", "password2": "a-fine-passphrase-9"}, follow=True
    )

    assert _messages(sent) == ["Invited nina@example.com as developer; the link works for 7 days."]
    assert (email.to, email.subject) == (["nina@example.com"], "adam invites you to Acme Inc on Berth")
    assert "as developer" in email.body
    assert b"adam invites <strong>nina@example.com</strong> to the team as <strong>developer</strong>" in page.content
    assert joined.redirect_chain == [("/t/acme/", 302)]
    assert _messages(joined) == ["You joined Acme Inc as developer."]
    nina = get_user_model().objects.get(username="nina")
    assert (nina.email, nina.check_password("a-fine-passphrase-9")) == ("nina@example.com", True)
    assert Membership.objects.get(user=nina).role == Role.DEVELOPER
    assert list(
        AuditEvent.objects.filter(action__in=["member.invite", "member.accept"])
        .values_list("action", flat=True)
        .order_by("id")
    ) == [
        "member.invite",
        "member.accept",
    ]


def test_a_logged_in_user_joins_with_one_click_and_a_second_use_changes_nothing(client, team, django_user_model):
    _invite(client, team, email="oscar@example.com", role="viewer")
    link = _link(mail.outbox[0])
    oscar = django_user_model.objects.create_user(username="oscar", password="x")
    client.force_login(oscar)

    first = client.post(link, follow=True)
    second = client.post(link, follow=True)

    assert _messages(first) == ["You joined Acme Inc as viewer."]
    assert _messages(second) == ["oscar is already a member."]
    assert Membership.objects.filter(user=oscar).count() == 1


def test_a_tampered_or_expired_link_is_refused(client, team, settings):
    _invite(client, team)
    link = _link(mail.outbox[0])
    client.logout()

    tampered = client.get(link[:-3] + "abc/")
    settings.BERTH_INVITATION_DAYS = 0
    time.sleep(1.1)
    expired = client.post(link, {"username": "nina", "password1": "a-fine-pass-9", "password2": "a-fine-pass-9"})

    for response in (tampered, expired):
        assert response.status_code == 410
        assert b"This invitation has expired or is not valid: ask the team for a new one." in response.content
    assert not get_user_model().objects.filter(username="nina").exists()


def test_nobody_invites_above_their_own_role_and_a_viewer_cannot_invite(client, team):
    refused = _invite(client, team, role="owner")
    client.force_login(team["viewer"])
    viewer = client.post("/t/acme/members/invite/", {"email": "x@example.com", "role": "viewer"})

    assert _messages(refused) == ["No invitation sent: You cannot grant a role above your own."]
    assert viewer.status_code == 404
    assert mail.outbox == []


def test_password_reset_by_email(client, team, django_user_model):
    django_user_model.objects.filter(username="dana").update(email="dana@example.com")

    sent = client.post("/password-reset/", {"email": "dana@example.com"}, follow=True)
    [email] = mail.outbox
    link = _link(email)
    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-77", "new_password2": "brand-new-pass-77"},
        follow=True,
    )
    reused = client.get(link, follow=True)

    assert b"Check your email" in sent.content
    assert email.subject == "Reset your Berth password"
    assert b"Your password is set" in done.content
    assert django_user_model.objects.get(username="dana").check_password("brand-new-pass-77")
    assert b"This link was used already or has expired." in reused.content


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, team):
    response = client.post("/password-reset/", {"email": "nobody@example.com"}, follow=True)

    assert b"Check your email" in response.content
    assert mail.outbox == []
