"""The matrix harness itself: it must catch a wrong status, a refused call that changes data, a route without rows."""

from tenants.models import Scope, Tenant
from tenants.tests.authz import Row, _snapshot_diff, database_snapshot, run_row, tenant_rule, uncovered_routes


def test_a_wrong_expectation_is_a_mismatch(authz_world):
    # given: audit needs admin, the row claims read is enough
    row = Row("GET", "/api/v1/tenants/{tenant}/audit/", tenant_rule(Scope.READ))

    # when
    mismatches = run_row(row, authz_world)

    # then: exactly the five callers who hold read but not admin
    assert sorted(line.split(" as ")[1].split(":")[0] for line in mismatches) == [
        "developer",
        "staff",
        "staff_token_read",
        "token_read",
        "viewer",
    ]


def test_calls_are_rolled_back_between_callers(authz_world):
    row = Row("DELETE", "/api/v1/tenants/{tenant}/", tenant_rule(Scope.ADMIN, ok=204, admin=403))

    assert run_row(row, authz_world) == []
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_the_snapshot_sees_a_change(authz_world):
    before = database_snapshot()
    Tenant.objects.filter(slug="acme").update(name="Changed")

    changed = _snapshot_diff(before, database_snapshot())

    assert len(changed) == 1
    assert changed[0].startswith("tenants.tenant: removed")


def test_a_route_without_rows_is_reported():
    one_row = [Row("GET", "/api/v1/tenants/", tenant_rule(Scope.READ))]

    assert "GET /api/v1/tenants/<str:tenant>/audit/" in uncovered_routes([])
    assert "GET /api/v1/tenants/" in uncovered_routes([])
    assert "GET /api/v1/tenants/" not in uncovered_routes(one_row)
    assert "POST /api/v1/tenants/" in uncovered_routes(one_row)


def test_a_page_route_without_rows_is_reported():
    one_row = [Row("POST", "/t/{tenant}/apps/", tenant_rule(Scope.WRITE))]

    assert "POST /t/<str:tenant>/apps/" in uncovered_routes([], pages=True)
    assert "GET /console/hosts/" in uncovered_routes([], pages=True)
    assert "POST /t/<str:tenant>/apps/" not in uncovered_routes(one_row, pages=True)
    # The API is no page: its own matrix covers it.
    assert not any(route.startswith(("GET /api/", "POST /api/")) for route in uncovered_routes([], pages=True))
