"""Authorization rows of the apps, builds, releases, rollouts, logs and hosts routes.

The format is defined in tenants/tests/authz.py; tenants/tests/test_authorization_matrix.py runs these rows with
the tenants rows and fails when a route under /api/v1/ answers a method no row calls. One Row per route and
method (more when the outcome depends on the body), for example:

    from tenants.models import Scope
    from tenants.tests.authz import Row, staff_rule, tenant_rule

    def make_app(world, caller):
        app = App.objects.create(tenant=world.tenant, slug="web")  # or a factory / service
        return {"app": app.slug}

    ROWS = [
        Row("GET", "/api/v1/tenants/{tenant}/apps/", tenant_rule(Scope.READ)),
        Row("POST", "/api/v1/tenants/{tenant}/apps/", tenant_rule(Scope.WRITE, ok=201), body={"slug": "web"}),
        Row("DELETE", "/api/v1/tenants/{tenant}/apps/{app}/", tenant_rule(Scope.ADMIN, ok=204), setup=make_app),
        Row("GET", "/api/v1/hosts/", staff_rule()),
        Row("POST", "/api/v1/hosts/", staff_rule(Scope.ADMIN, ok=201), body={...}),
    ]

Every caller gets a fresh world (a savepoint per call): `other_owner` and `token_other_tenant` must get 404 and a
refused call must leave every table of tenants, deployments and auth unchanged, which run_row() checks itself.
"""

ROWS: list = []
