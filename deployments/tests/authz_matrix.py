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

from deployments.models import Deployment, DockerHost
from deployments.tests.factories import AppFactory, ReleaseFactory
from tenants.models import Scope
from tenants.tests.authz import Row, staff_rule, tenant_rule


def make_host(world, caller):
    DockerHost.objects.create(name="h1", engine_url="unix:///var/run/docker.sock")
    return {"host": "h1"}


def make_deployment(world, caller):
    app = AppFactory(tenant=world.tenant, slug="web")
    deployment = Deployment.objects.create(app=app, release=ReleaseFactory(app=app, version=1))
    return {"app": app.slug, "deployment": deployment.pk}


ROWS: list = [
    # Hosts: staff only. The engine URL of the POST does not answer, so staff get the 400 that says so and no host.
    Row("GET", "/api/v1/hosts/", staff_rule()),
    Row(
        "POST",
        "/api/v1/hosts/",
        staff_rule(Scope.ADMIN, ok=400),
        body={"name": "h2", "engine_url": "unix:///nonexistent/berth-authz.sock"},
    ),
    Row("GET", "/api/v1/hosts/{host}/", staff_rule(), setup=make_host),
    Row("PATCH", "/api/v1/hosts/{host}/", staff_rule(Scope.ADMIN), setup=make_host, body={"status": "draining"}),
    Row("DELETE", "/api/v1/hosts/{host}/", staff_rule(Scope.ADMIN, ok=204), setup=make_host),
    # Deployments and containers of an app.
    Row("GET", "/api/v1/tenants/{tenant}/apps/{app}/deployments/", tenant_rule(Scope.READ), setup=make_deployment),
    Row(
        "GET",
        "/api/v1/tenants/{tenant}/apps/{app}/deployments/{deployment}/",
        tenant_rule(Scope.READ),
        setup=make_deployment,
    ),
    Row("GET", "/api/v1/tenants/{tenant}/apps/{app}/containers/", tenant_rule(Scope.READ), setup=make_deployment),
    # No such container: who may restart learns that (404); who may not is refused first (403).
    Row(
        "POST",
        "/api/v1/tenants/{tenant}/apps/{app}/containers/abcdef123456/restart/",
        tenant_rule(Scope.DEPLOY, ok=404),
        setup=make_deployment,
    ),
]
