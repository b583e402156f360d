"""The authorization matrix of every API route.

The rows are in tenants/tests/authz_matrix.py and deployments/tests/authz_matrix.py; the test spans both apps, so it
lives with the project, and neither app's tests import the other's.
"""

import pytest

from deployments.tests.authz_matrix import ROWS as DEPLOYMENTS_ROWS
from tenants.tests.authz import CALLERS, call, run_row, uncovered_routes
from tenants.tests.authz_matrix import ROWS as TENANTS_ROWS

ROWS = [*TENANTS_ROWS, *DEPLOYMENTS_ROWS]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_row(row, authz_world):
    assert run_row(row, authz_world) == []


def test_every_api_route_and_method_has_a_row():
    assert uncovered_routes(ROWS) == []


def test_rows_are_unique():
    ids = [row.id for row in ROWS]
    assert sorted(ids) == sorted(set(ids))


# Who each caller is, as the server tells it: the tenants it lists with its role in each (None: staff, no member),
# and for a token caller the token's own scopes and tenant restriction; 401 where it is nobody.
_ALL = ["admin", "deploy", "read", "write"]
IDENTITIES = {
    "anonymous": 401,
    "viewer": ({"acme": "viewer"}, None),
    "developer": ({"acme": "developer"}, None),
    "admin": ({"acme": "admin"}, None),
    "owner": ({"acme": "owner", "globex": "admin"}, None),
    "other_owner": ({"globex": "owner"}, None),
    "staff": ({"acme": None, "globex": None}, None),
    "staff_token_read": ({"acme": None, "globex": None}, (["read"], None)),
    "token_read": ({"acme": "owner", "globex": "admin"}, (["read"], None)),
    "token_tenant": ({"acme": "owner"}, (_ALL, "acme")),
    "token_other_tenant": ({"globex": "admin"}, (_ALL, "globex")),
    "token_expired": 401,
}


def _identity(caller):
    tenants = call(caller, "GET", "/api/v1/tenants/")
    if tenants.status_code != 200:
        return tenants.status_code
    roles = {tenant["slug"]: tenant["role"] for tenant in tenants.json()["results"]}
    if caller.token is None:
        return roles, None
    own = [
        token for token in call(caller, "GET", "/api/v1/tokens/").json()["results"] if token["id"] == caller.token_id
    ]
    return roles, (own[0]["scopes"], own[0]["tenant"]) if own else "its token is not its user's"


def test_each_caller_is_who_its_name_says(authz_world):
    # A caller wired wrong in build_world (a token restricted to the wrong tenant, a session of the wrong user, an
    # expiry that does not hold) would make every row test something else than it claims: ask the server.
    assert set(IDENTITIES) == set(CALLERS)
    assert {name: _identity(caller) for name, caller in authz_world.callers.items()} == IDENTITIES
