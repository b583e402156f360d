"""The CLI in a subprocess against the real portal (pytest-django's live_server)."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tenants.models import ApiToken, Membership, Tenant

BERTH = Path(__file__).resolve().parent.parent / "berth"
pytestmark = pytest.mark.django_db(transaction=True)


def create_token(username: str, scopes: str, tenant: str | None = None) -> str:
    out = StringIO()
    extra = ["--tenant", tenant] if tenant else []
    call_command("createtoken", username, "--scopes", scopes, *extra, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def portal(live_server, tmp_path):
    """acme owned by alice, other owned by bob; run(token, *args) runs the CLI against the live portal."""
    call_command("createtenant", "acme", "--owner", "alice", "--name", "Acme", stdout=StringIO())
    call_command("createtenant", "other", "--owner", "bob", stdout=StringIO())

    def run(token: str | None, *args: str) -> subprocess.CompletedProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BERTH_URL": live_server.url,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
        if token:
            env["BERTH_TOKEN"] = token
        return subprocess.run(
            [sys.executable, str(BERTH), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    return run


def test_tenants_lists_the_callers_tenants_with_role(portal):
    token = create_token("alice", "read")

    table = portal(token, "tenants")
    as_json = portal(token, "tenants", "--json")

    assert (table.returncode, table.stdout, table.stderr) == (0, "SLUG  NAME  ROLE\nacme  Acme  owner\n", "")
    assert [(t["slug"], t["name"], t["role"]) for t in json.loads(as_json.stdout)] == [("acme", "Acme", "owner")]


def test_tenants_create_makes_the_caller_owner(portal):
    token = create_token("alice", "read,write")

    result = portal(token, "tenants:create", "beta", "--name", "Beta")

    assert (result.returncode, result.stdout) == (0, "Created tenant beta.\n")
    assert Membership.objects.get(tenant__slug="beta").user.username == "alice"
    assert Membership.objects.get(tenant__slug="beta").role == "owner"


def test_tenants_create_with_a_taken_slug_prints_the_api_error(portal):
    token = create_token("alice", "read,write")

    result = portal(token, "tenants:create", "other")

    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert Tenant.objects.count() == 2


def test_members_add_list_change_and_remove(portal):
    token = create_token("alice", "read,write,admin")

    added = portal(token, "members:add", "bob", "--role", "viewer", "-t", "acme")
    listed = portal(token, "members", "-t", "acme", "--json")
    changed = portal(token, "members:set-role", "bob", "developer", "-t", "acme")
    role_after_change = Membership.objects.get(tenant__slug="acme", user__username="bob").role
    removed = portal(token, "members:remove", "bob", "-t", "acme")

    assert (added.returncode, added.stdout) == (0, "Added bob to acme as viewer.\n")
    assert sorted((m["username"], m["role"]) for m in json.loads(listed.stdout)) == [
        ("alice", "owner"),
        ("bob", "viewer"),
    ]
    assert (changed.returncode, changed.stdout) == (0, "bob is now developer of acme.\n")
    assert role_after_change == "developer"
    assert (removed.returncode, removed.stdout) == (0, "Removed bob from acme.\n")
    assert not Membership.objects.filter(tenant__slug="acme", user__username="bob").exists()


def test_another_tenant_answers_not_found_and_nothing_changes(portal):
    token = create_token("alice", "read,write,admin")

    listed = portal(token, "members", "-t", "other")
    added = portal(token, "members:add", "alice", "--role", "owner", "-t", "other")

    assert (listed.returncode, listed.stdout, listed.stderr) == (1, "", "error: Not found.\n")
    assert (added.returncode, added.stderr) == (1, "error: Not found.\n")
    assert list(Membership.objects.filter(tenant__slug="other").values_list("user__username", "role")) == [
        ("bob", "owner")
    ]


def test_tokens_create_use_list_and_revoke(portal):
    admin = create_token("alice", "read,write,deploy,admin")

    created = portal(admin, "tokens:create", "--scopes", "read,deploy", "-t", "acme", "--expires-days", "3")
    new_token = created.stdout.strip()
    seen_with_new = portal(new_token, "tenants", "--json")
    listed = portal(admin, "tokens", "--json")
    new_id = next(t["id"] for t in json.loads(listed.stdout) if t["tenant"] == "acme")
    revoked = portal(admin, "tokens:revoke", str(new_id))
    after_revoke = portal(new_token, "tenants")

    assert created.returncode == 0
    assert new_token.startswith("brt_")
    assert created.stdout == new_token + "\n"
    assert [t["slug"] for t in json.loads(seen_with_new.stdout)] == ["acme"]
    assert sorted(sorted(t["scopes"]) for t in json.loads(listed.stdout)) == [
        ["admin", "deploy", "read", "write"],
        ["deploy", "read"],
    ]
    assert ApiToken.objects.get(pk=new_id).expires_at is not None
    assert (revoked.returncode, revoked.stdout) == (0, f"Revoked token {new_id}.\n")
    assert (after_revoke.returncode, after_revoke.stderr) == (1, "error: Invalid, expired or revoked token.\n")


def test_a_read_token_cannot_create_tokens(portal):
    reader = create_token("alice", "read")
    before = ApiToken.objects.count()

    result = portal(reader, "tokens:create", "--scopes", "read")

    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""
    assert ApiToken.objects.count() == before


def test_login_stores_the_token_for_later_commands(portal):
    token = create_token("alice", "read")

    login = portal(None, "login", "--token", token)
    tenants = portal(None, "tenants", "--json")

    assert login.returncode == 0
    assert [t["slug"] for t in json.loads(tenants.stdout)] == ["acme"]


def test_without_a_token_the_api_refuses_and_the_cli_says_how_to_log_in(portal):
    result = portal(None, "tenants")

    assert result.returncode == 1
    assert result.stderr.endswith("Set BERTH_TOKEN or run `berth login --token brt_...`.\n")
    assert get_user_model().objects.count() == 2


def test_audit_shows_what_the_cli_did(portal):
    token = create_token("alice", "read,write,admin")
    portal(token, "members:add", "bob", "--role", "viewer", "-t", "acme")

    table = portal(token, "audit", "-t", "acme", "-n", "1")
    as_json = portal(token, "audit", "-t", "acme", "--json")
    reader = portal(create_token("alice", "read"), "audit", "-t", "acme")

    rows = [line.split("  ") for line in table.stdout.splitlines()]
    assert table.returncode == 0
    assert [[cell.strip() for cell in row if cell.strip()][1:] for row in rows] == [
        ["ACTOR", "ACTION", "TARGET", "IP"],
        ["alice", "member.add", "bob in acme as viewer", "127.0.0.1"],
    ]
    assert [(event["action"], event["target_repr"]) for event in json.loads(as_json.stdout)] == [
        ("member.add", "bob in acme as viewer"),
        ("tenant.create", "acme"),
    ]
    assert (reader.returncode, reader.stdout, reader.stderr) == (
        1,
        "",
        "error: Your role or token does not allow this.\n",
    )
