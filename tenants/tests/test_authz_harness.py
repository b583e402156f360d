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
    assert "GET /api/v1/tenants/{tenant}/audit/".replace("{tenant}", "<str:tenant>") in uncovered_routes([])
    assert (
        uncovered_routes([Row("GET", "/api/v1/tenants/", tenant_rule(Scope.READ))]).count("GET /api/v1/tenants/") == 0
    )
