"""Authorization rows of the pages outside tenants: home, login, logout, and Django's admin under the staff console.

The format is defined in tenants/tests/authz.py (pages: run_row(row, world, page=True)); the customer pages of a
tenant are in deployments/tests/authz_pages.py, and deployments/tests/views/test_authorization_matrix.py runs both
and fails on a page route no row calls.
"""

import re

from tenants import invitations
from tenants.models import ApiToken, AuditEvent, Membership, Role, Scope, Tenant
from tenants.services import token_create
from tenants.tests.authz import LOGIN, Row, admin_rule, page_routes, page_rule, public_rule, session_rule
from tenants.tests.factories import UserFactory

TEAM = "/t/{tenant}/"
# Pages open no session from a token: its caller is as anonymous as one without credentials.
_NOT_SIGNED_IN = ("anonymous", "staff_token_read", "token_read", "token_tenant", "token_other_tenant", "token_expired")


def _own_token(world, caller):
    """A token of the caller's own (the page revokes only its user's), 0 for a caller without a user."""
    if caller.user is None:
        return {"own_token": 0}
    token, _ = token_create(user=caller.user, name="to-revoke", scopes=[Scope.READ])
    return {"own_token": token.pk}


def _invitation(world, caller):
    """A signed invitation to acme as a developer, for a new address."""
    signed = invitations.invitation_send(
        actor=world.users["owner"], tenant=world.tenant, email="new@example.com", role=Role.DEVELOPER, link_for=str
    )
    return {"signed": signed}


def _newbie(world, caller):
    UserFactory(username="newbie")


def _team_created(world, params, response):
    assert Tenant.objects.filter(slug="newteam").exists()


def _token_created(world, params, response):
    assert ApiToken.objects.filter(user__username=params["me"], name="ci").exists()


def _token_revoked(world, params, response):
    assert ApiToken.objects.get(pk=params["own_token"]).revoked_at is not None


def _renamed(world, params, response):
    assert Tenant.objects.get(pk=world.tenant.pk).name == "Acme Two"


def _added(world, params, response):
    assert Membership.objects.get(tenant=world.tenant, user__username="newbie").role == Role.VIEWER


def _invited(world, params, response):
    assert AuditEvent.objects.filter(tenant=world.tenant, action="member.invite").exists()


def _promoted(world, params, response):
    assert Membership.objects.get(tenant=world.tenant, user__username="acme-viewer").role == Role.DEVELOPER


def _viewer_gone(world, params, response):
    assert not Membership.objects.filter(tenant=world.tenant, user__username="acme-viewer").exists()


ROWS = [
    Row("GET", "/", session_rule()),
    Row("GET", "/login/", public_rule()),
    # An empty form: the page again with its errors, for anyone.
    Row("POST", "/login/", public_rule()),
    Row("PUT", "/login/", public_rule()),
    # Logging out works signed in or not, and lands on the login page.
    Row("POST", "/logout/", public_rule(LOGIN)),
    # Django's admin keeps its own gate: superusers only (portal/admin_site.py), and no caller here is one.
    Row("GET", "/console/admin/login/", public_rule()),
    Row("POST", "/console/admin/login/", public_rule()),
    # The admin's gate sends whoever may not log out of it to its index (and from there to its login page).
    Row("GET", "/console/admin/logout/", public_rule(302)),
    Row("POST", "/console/admin/logout/", public_rule(302)),
    # Password reset: open to anyone; an empty form or a bad link answers the page again.
    Row("GET", "/password-reset/", public_rule()),
    Row("POST", "/password-reset/", public_rule()),
    Row("PUT", "/password-reset/", public_rule()),
    Row("GET", "/password-reset/sent/", public_rule()),
    Row("GET", "/password-reset/done/", public_rule()),
    Row("GET", "/password-reset/MQ/bad-token/", public_rule()),
    Row("POST", "/password-reset/MQ/bad-token/", public_rule()),
    Row("PUT", "/password-reset/MQ/bad-token/", public_rule()),
    # An invitation link: shown to anyone (a sign-up form to whoever is not signed in); a signed-in user who posts
    # joins, or is told they are a member already, and lands on a page.
    Row("GET", "/invitations/{signed}/", public_rule(), setup=_invitation),
    Row(
        "POST",
        "/invitations/{signed}/",
        session_rule(302, **dict.fromkeys(_NOT_SIGNED_IN, 200)),
        setup=_invitation,
    ),
    # The user's own account, tokens and teams.
    Row("POST", "/teams/", session_rule(302), body={"slug": "newteam", "name": "New team"}, then=_team_created),
    Row("GET", "/teams/switch/?team={tenant}", page_rule(Scope.READ, ok=302)),
    Row("GET", "/account/", session_rule()),
    Row("POST", "/account/", session_rule()),
    Row("POST", "/account/two-factor/", session_rule(302), body={"action": "start"}),
    Row("GET", "/account/tokens/", session_rule()),
    Row(
        "POST",
        "/account/tokens/",
        session_rule(302),
        body={"name": "ci", "scopes": "read", "expires_in": "90"},
        then=_token_created,
    ),
    Row(
        "POST",
        "/account/tokens/{own_token}/revoke/",
        session_rule(302),
        setup=_own_token,
        then=_token_revoked,
    ),
    # A team's settings, members and audit trail.
    Row("GET", TEAM + "settings/", page_rule(Scope.READ)),
    Row(
        "POST",
        TEAM + "settings/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        body={"name": "Acme Two"},
        then=_renamed,
    ),
    # Turning the requirement off (it is off): owners only, and nothing to change.
    Row("POST", TEAM + "settings/two-factor/", page_rule(Scope.ADMIN, ok=302, min_role="owner")),
    Row("GET", TEAM + "members/", page_rule(Scope.READ)),
    Row(
        "POST",
        TEAM + "members/add/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=_newbie,
        body={"username": "newbie", "role": "viewer"},
        then=_added,
    ),
    Row(
        "POST",
        TEAM + "members/invite/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        body={"email": "new@example.com", "role": "developer"},
        then=_invited,
    ),
    Row(
        "POST",
        TEAM + "members/acme-viewer/role/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        body={"role": "developer"},
        then=_promoted,
    ),
    # The viewer may leave; removing them takes an admin.
    Row(
        "POST",
        TEAM + "members/acme-viewer/remove/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin", viewer=302),
        then=_viewer_gone,
    ),
    Row("GET", TEAM + "audit/", page_rule(Scope.ADMIN, min_role="admin")),
]

ADMIN = "console/admin/"
_OWN_ROWS = {(row.method, row.url) for row in ROWS}


def _concrete(route: str) -> str:
    """A URL the admin's route pattern matches: path converters and regex groups filled with a sample value."""
    url = re.sub(r"\(\?P<url>[^)]*\)", "no-such-page/", route)
    url = re.sub(r"\(\?P<\w+>([\w-]+)[^)]*\)", r"\1", url)
    url = re.sub(r"<(?:\w+:)?(\w+)>", "1", url)
    return "/" + url.replace("^", "").replace("$", "")


# Every other admin route, generated from the resolver: only superusers pass the admin's gate (none is a caller here;
# tenants/tests/test_admin.py lets one in), anyone else signs in first.
ROWS += [
    Row(method, _concrete(route), admin_rule(), name="admin")
    for route, methods in sorted(page_routes().items())
    if route.startswith(ADMIN)
    for method in sorted(methods)
    if (method, _concrete(route)) not in _OWN_ROWS
]
