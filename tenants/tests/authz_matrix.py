"""Authorization rows of the tenants, members, tokens and audit routes (format: tenants/tests/authz.py)."""

from tenants.models import Role, Scope
from tenants.services import member_add, token_create
from tenants.tests.authz import Row, tenant_rule, user_rule
from tenants.tests.factories import UserFactory

TENANTS = "/api/v1/tenants/"
TENANT = "/api/v1/tenants/{tenant}/"
MEMBERS = "/api/v1/tenants/{tenant}/members/"
MEMBER = "/api/v1/tenants/{tenant}/members/{username}/"
TOKENS = "/api/v1/tokens/"
TOKEN = "/api/v1/tokens/{id}/"
AUDIT = "/api/v1/tenants/{tenant}/audit/"


def _newcomer(world, caller):
    UserFactory(username="newcomer")


def _developer_target(world, caller):
    member_add(
        actor=world.users["owner"], tenant=world.tenant, user=UserFactory(username="target"), role=Role.DEVELOPER
    )
    return {"username": "target"}


def _own_spare_token(world, caller):
    """A second token of the caller, unrestricted and read-only."""
    if caller.user is None:
        return {"id": 0}
    token, _ = token_create(user=caller.user, scopes=[Scope.READ], name="spare")
    return {"id": token.pk}


def _owners_spare_token(world, caller):
    token, _ = token_create(user=world.users["owner"], scopes=[Scope.READ], name="owner's spare")
    return {"id": token.pk}


# Restricted tokens may not create tenants; read-only tokens may not write.
_NO_TENANT_CREATION = {
    "staff_token_read": 403,
    "token_read": 403,
    "token_tenant": 403,
    "token_other_tenant": 403,
}

ROWS = [
    # Tenants
    Row("GET", TENANTS, user_rule()),
    Row("POST", TENANTS, user_rule(201, **_NO_TENANT_CREATION), body={"slug": "newco", "name": "New Co"}),
    Row("GET", TENANT, tenant_rule(Scope.READ)),
    Row("PATCH", TENANT, tenant_rule(Scope.ADMIN), body={"name": "Renamed"}, name="rename"),
    Row(
        "PATCH",
        TENANT,
        tenant_rule(Scope.ADMIN, admin=403, owner=403, token_tenant=403, staff=200, staff_token_read=403),
        body={"max_apps": 3},
        name="quotas: staff only",
    ),
    Row("DELETE", TENANT, tenant_rule(Scope.ADMIN, ok=204, admin=403), name="owners only"),
    # Members
    Row("GET", MEMBERS, tenant_rule(Scope.READ)),
    Row(
        "POST",
        MEMBERS,
        tenant_rule(Scope.ADMIN, ok=201),
        setup=_newcomer,
        body={"username": "newcomer", "role": "viewer"},
    ),
    Row(
        "POST",
        MEMBERS,
        tenant_rule(Scope.ADMIN, ok=201, admin=403),
        setup=_newcomer,
        body={"username": "newcomer", "role": "owner"},
        name="granting owner takes an owner",
    ),
    Row("PATCH", MEMBER, tenant_rule(Scope.ADMIN), setup=_developer_target, body={"role": "viewer"}),
    Row(
        "PATCH",
        "/api/v1/tenants/{tenant}/members/{owner}/",
        tenant_rule(Scope.ADMIN, ok=409, admin=403),
        body={"role": "admin"},
        name="the last owner cannot be demoted",
    ),
    Row("DELETE", MEMBER, tenant_rule(Scope.ADMIN, ok=204), setup=_developer_target, name="remove another"),
    Row(
        "DELETE",
        "/api/v1/tenants/{tenant}/members/{me}/",
        # Members leave; the last owner cannot; staff and strangers are no member to remove.
        tenant_rule(Scope.READ, ok=204, owner=409, token_read=409, token_tenant=409, staff=404, staff_token_read=404),
        name="leave",
    ),
    # Audit
    Row("GET", AUDIT, tenant_rule(Scope.ADMIN)),
    # Tokens
    Row("GET", TOKENS, user_rule()),
    Row(
        "POST",
        TOKENS,
        user_rule(201, other_owner=404, token_other_tenant=404, staff_token_read=403, token_read=403),
        body={"scopes": ["read"], "tenant": "{tenant}", "name": "ci"},
        name="read on the tenant",
    ),
    Row(
        "POST",
        TOKENS,
        user_rule(
            201,
            viewer=403,
            developer=403,
            staff=403,
            other_owner=404,
            token_other_tenant=404,
            staff_token_read=403,
            token_read=403,
        ),
        body={"scopes": ["read", "admin"], "tenant": "{tenant}"},
        name="admin scope takes an admin role",
    ),
    Row(
        "DELETE",
        TOKEN,
        # A restricted token sees only its tenant's tokens; a read-only token revokes only itself.
        user_rule(204, token_tenant=404, token_other_tenant=404, token_read=403, staff_token_read=403),
        setup=_own_spare_token,
        name="own other token",
    ),
    Row(
        "DELETE",
        "/api/v1/tokens/{token_id}/",
        user_rule(204, viewer=404, developer=404, admin=404, owner=404, other_owner=404, staff=404),
        name="the token revokes itself",
    ),
    Row(
        "DELETE",
        TOKEN,
        {
            **user_rule(404, owner=204, token_read=403),
        },
        setup=_owners_spare_token,
        name="someone else's token",
    ),
]
