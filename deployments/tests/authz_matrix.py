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

from deployments.models import Container, ContainerState, Deployment, Release, ReleaseStatus
from deployments.services.apps import app_create
from deployments.services.config import config_update
from deployments.tests.factories import BuildFactory, DockerHostFactory
from tenants.models import Scope
from tenants.tests.authz import Row, staff_rule, tenant_rule

APPS = "/api/v1/tenants/{tenant}/apps/"
APP = "/api/v1/tenants/{tenant}/apps/{app}/"
HOSTS = "/api/v1/hosts/"
HOST = "/api/v1/hosts/{host}/"


def make_app(world, caller):
    """An app `web` of the tenant, with release v1 (what app_create makes)."""
    app = app_create(tenant=world.tenant, slug="web", actor=world.users["owner"])
    return {"app": app.slug, "app_id": app.pk}


def make_app_with_two_releases(world, caller):
    """v1 succeeded, v2 a config change: a rollback to v1 is allowed."""
    params = make_app(world, caller)
    Release.objects.filter(app_id=params["app_id"], version=1).update(status=ReleaseStatus.SUCCEEDED)
    app = Release.objects.get(app_id=params["app_id"], version=1).app
    config_update(app=app, values={"GREETING": "hello"}, actor=world.users["owner"])
    return params


def make_build(world, caller):
    params = make_app(world, caller)
    build = BuildFactory(app_id=params["app_id"], number=1)
    return {**params, "number": build.number}


def make_deployment(world, caller):
    params = make_app(world, caller)
    release = Release.objects.get(app_id=params["app_id"], version=1)
    deployment = Deployment.objects.create(app_id=params["app_id"], release=release)
    return {**params, "deployment": deployment.pk}


def make_container(world, caller):
    """A container row whose host does not answer: the restart reaches the engine only past the permission check."""
    params = make_app(world, caller)
    release = Release.objects.get(app_id=params["app_id"], version=1)
    host = DockerHostFactory(name="gone", engine_url="unix:///nonexistent/berth-authz.sock")
    container = Container.objects.create(
        host=host,
        engine_id="abcdef123456" * 5 + "abcd",
        app_id=params["app_id"],
        release=release,
        process_type="web",
        index=1,
        name="web.web.1",
        state=ContainerState.RUNNING,
    )
    return {**params, "container": container.engine_id[:12]}


def make_host(world, caller):
    host = DockerHostFactory(name="spare", engine_url="unix:///nonexistent/berth-authz.sock")
    return {"host": host.name}


ROWS = [
    # Apps
    Row("GET", APPS, tenant_rule(Scope.READ)),
    Row("POST", APPS, tenant_rule(Scope.WRITE, ok=201), body={"slug": "newapp"}),
    Row("GET", APP, tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", APP, tenant_rule(Scope.WRITE), setup=make_app, body={"description": "The shop"}),
    Row("DELETE", APP, tenant_rule(Scope.ADMIN, ok=204), setup=make_app),
    # Config and formation
    Row("GET", APP + "config/", tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", APP + "config/", tenant_rule(Scope.WRITE), setup=make_app, body={"GREETING": "hi"}),
    Row("GET", APP + "formation/", tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", APP + "formation/", tenant_rule(Scope.WRITE), setup=make_app, body={"web": {"quantity": 2}}),
    # Builds
    Row("GET", APP + "builds/", tenant_rule(Scope.READ), setup=make_app),
    Row("POST", APP + "builds/", tenant_rule(Scope.DEPLOY, ok=201), setup=make_app, body={"image": "busybox:1"}),
    Row("GET", APP + "builds/{number}/", tenant_rule(Scope.READ), setup=make_build),
    # Releases and rollback
    Row("GET", APP + "releases/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "releases/1/", tenant_rule(Scope.READ), setup=make_app),
    Row(
        "POST",
        APP + "rollback/",
        tenant_rule(Scope.DEPLOY, ok=201),
        setup=make_app_with_two_releases,
        body={"version": 1},
    ),
    # Deployments, containers, logs
    Row("GET", APP + "deployments/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "deployments/{deployment}/", tenant_rule(Scope.READ), setup=make_deployment),
    Row("GET", APP + "containers/", tenant_rule(Scope.READ), setup=make_app),
    # The host does not answer, so a caller allowed to restart gets the engine's error (400), after the check.
    Row("POST", APP + "containers/{container}/restart/", tenant_rule(Scope.DEPLOY, ok=400), setup=make_container),
    Row("GET", APP + "logs/", tenant_rule(Scope.READ), setup=make_app),
    # Hosts (staff)
    Row("GET", HOSTS, staff_rule()),
    # The engine URL does not answer, so staff get 400 engine_unreachable, after the check.
    Row(
        "POST", HOSTS, staff_rule(Scope.ADMIN, ok=400), body={"name": "h2", "engine_url": "unix:///nonexistent/x.sock"}
    ),
    Row("GET", HOST, staff_rule(), setup=make_host),
    Row("PATCH", HOST, staff_rule(Scope.ADMIN), setup=make_host, body={"status": "draining"}),
    Row("DELETE", HOST, staff_rule(Scope.ADMIN, ok=204), setup=make_host),
]
