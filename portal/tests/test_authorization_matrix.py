"""The authorization matrix of every API route.

The rows are in tenants/tests/authz_matrix.py and deployments/tests/authz_matrix.py; the test spans both apps, so it
lives with the project, and neither app's tests import the other's.
"""

import pytest

from deployments.tests.authz_matrix import ROWS as DEPLOYMENTS_ROWS
from tenants.tests.authz import CALLERS, run_row, uncovered_routes
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


def test_the_matrix_covers_every_caller_kind():
    # A cross-tenant caller, a narrow token and a restricted token are part of every row.
    assert {"other_owner", "token_read", "token_other_tenant", "token_expired", "staff"} <= set(CALLERS)
    assert all(set(row.expect) == set(CALLERS) for row in ROWS)
