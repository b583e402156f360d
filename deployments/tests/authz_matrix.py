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

from deployments.models import App, Build, BuildStatus, SourceKind
from tenants.models import Scope
from tenants.tests.authz import Row, tenant_rule


def make_app(world, caller) -> dict:
    App.objects.create(tenant=world.tenant, slug="web")
    return {"app": "web"}


def make_build(world, caller) -> dict:
    app = App.objects.create(tenant=world.tenant, slug="web")
    build = Build.objects.create(
        app=app, number=1, source_kind=SourceKind.IMAGE, source={"image": "a/b:1"}, status=BuildStatus.PENDING
    )
    return {"app": "web", "build": build.pk}


ROWS: list = [
    Row("GET", "/api/v1/tenants/{tenant}/apps/{app}/builds/", tenant_rule(Scope.READ), setup=make_app),
    Row(
        "POST",
        "/api/v1/tenants/{tenant}/apps/{app}/builds/",
        tenant_rule(Scope.DEPLOY, ok=201),
        body={"image": "registry.example.com/team/app:1"},
        setup=make_app,
    ),
    Row("GET", "/api/v1/tenants/{tenant}/apps/{app}/builds/{build}/", tenant_rule(Scope.READ), setup=make_build),
]
