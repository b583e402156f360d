"""The authorization matrix of every page: the customer UI and the staff console (rows in tenants/ and here)."""

import pytest

from deployments.tests.authz_console import ROWS as CONSOLE_ROWS
from deployments.tests.authz_pages import ROWS as DEPLOYMENTS_ROWS
from tenants.tests.authz import run_row, uncovered_routes
from tenants.tests.authz_pages import ROWS as TENANTS_ROWS

ROWS = [*TENANTS_ROWS, *DEPLOYMENTS_ROWS, *CONSOLE_ROWS]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_row(row, authz_world):
    assert run_row(row, authz_world, page=True) == []


def test_every_page_route_and_method_has_a_row():
    assert uncovered_routes(ROWS, pages=True) == []


def test_rows_are_unique():
    ids = [row.id for row in ROWS]
    assert sorted(ids) == sorted(set(ids))
