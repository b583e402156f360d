"""createtenant, createtoken and demo, and the login they lead to."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tenants.models import ApiToken, AuditEvent, Membership, Role, Tenant
from tenants.tests.factories import MembershipFactory, UserFactory
from tenants.tokens import token_digest


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_createtenant_creates_the_owner_when_missing():
    out = _run("createtenant", "acme", "--owner", "alice", "--name", "Acme Inc")

    assert out == "Created tenant acme owned by alice.\n"
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Inc"
    assert list(Membership.objects.values_list("user__username", "role")) == [("alice", Role.OWNER)]
    assert list(AuditEvent.objects.values_list("action", "actor_name")) == [("tenant.create", "alice")]


@pytest.mark.django_db
def test_createtenant_refuses_a_bad_slug_and_a_taken_one():
    _run("createtenant", "acme", "--owner", "alice")

    with pytest.raises(CommandError, match="lowercase letters"):
        _run("createtenant", "Not_DNS", "--owner", "alice")
    with pytest.raises(CommandError, match="taken"):
        _run("createtenant", "acme", "--owner", "bob")
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme"]


@pytest.mark.django_db
def test_createtenant_leaves_no_user_behind_when_the_slug_is_refused():
    with pytest.raises(CommandError):
        _run("createtenant", "Bad_Slug", "--owner", "newbie")

    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_createtenant_creates_the_owner_without_a_usable_password():
    _run("createtenant", "acme", "--owner", "alice")

    assert get_user_model().objects.get(username="alice").has_usable_password() is False


@pytest.mark.django_db
def test_createtoken_with_zero_days_is_refused_not_eternal():
    MembershipFactory(user__username="alice", role=Role.ADMIN)

    with pytest.raises(CommandError, match="future"):
        _run("createtoken", "alice", "--expires-days", "0")
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_createtoken_prints_the_token_alone_and_stores_only_its_digest():
    membership = MembershipFactory(user__username="alice", tenant__slug="acme", role=Role.DEVELOPER)

    out = _run("createtoken", "alice", "--tenant", "acme", "--scopes", "read,deploy", "--expires-days", "3")

    plaintext = out.strip()
    assert re.fullmatch(r"brt_[A-Za-z0-9]{43}", plaintext)
    assert out == plaintext + "\n"
    token = ApiToken.objects.get()
    assert (token.user, token.tenant, token.scopes) == (membership.user, membership.tenant, ["deploy", "read"])
    assert token.digest == token_digest(plaintext)
    assert plaintext not in repr(ApiToken.objects.values()[0])


@pytest.mark.django_db
def test_createtoken_refuses_scopes_wider_than_the_role():
    MembershipFactory(user__username="vic", tenant__slug="acme", role=Role.VIEWER)

    with pytest.raises(CommandError, match="wider than your role: write"):
        _run("createtoken", "vic", "--tenant", "acme", "--scopes", "read,write")
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_demo_prints_the_login_once_and_it_works(client):
    # given: a fresh database
    out = _run("demo")

    # then: the password it printed logs in, and the home page lists the demo tenant
    password = re.search(r"as user `demo` with password `([^`]+)`", out).group(1)
    assert _run("demo") == ""
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    response = client.post("/login/", {"username": "demo", "password": password})
    assert (response.status_code, response["Location"]) == (302, "/")
    home = client.get("/")
    assert home.status_code == 200
    assert b'<a href="/t/demo/">demo</a>' in home.content


@pytest.mark.django_db
def test_demo_prints_nothing_when_a_user_exists():
    UserFactory(username="someone")

    assert _run("demo") == ""
    assert Tenant.objects.count() == 0


@pytest.mark.django_db
def test_login_with_a_wrong_password_stays_on_the_form(client):
    user = UserFactory(username="alice")
    user.set_password("right horse battery")
    user.save()

    response = client.post("/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert b"did not match" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_refusal_from_a_service_is_the_command_error_text():
    MembershipFactory(user__username="vic", tenant__slug="acme", role=Role.VIEWER)

    with pytest.raises(CommandError) as raised:
        _run("createtoken", "vic", "--tenant", "acme", "--scopes", "read,admin")

    assert str(raised.value) == "Scopes wider than your role: admin."
    assert ApiToken.objects.count() == 0
