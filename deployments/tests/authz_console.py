"""Authorization rows of the staff console (format: tenants/tests/authz.py).

Staff sessions get the page (or, for an action, a redirect once it is done); any other signed-in user 404; anonymous
callers and tokens the login page (the console takes no token, not even a staff one). Each action's `then` checks
what it did and that it wrote exactly one audit event, naming the staff member.
"""

from deployments.models import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentStatus,
    DockerHost,
    GcRun,
    HostStatus,
    Release,
)
from deployments.tests.authz_matrix import (
    make_app_with_container,
    make_app_with_deployment,
    make_app_with_pending_build,
)
from deployments.tests.factories import DockerHostFactory
from tenants.models import AuditEvent, Tenant
from tenants.tests.authz import Row, console_rule

HOST = "/console/hosts/{host}/"
TENANT = "/console/tenants/{tenant}/"


def _one_event_by_staff(world, action: str) -> AuditEvent:
    # The world made the staff member's read token (token.create) before the call.
    events = list(AuditEvent.objects.filter(actor=world.users["staff"]).exclude(action="token.create"))
    assert [(event.action, event.actor_name) for event in events] == [(action, "staff")]
    return events[0]


def make_host(world, caller):
    DockerHostFactory(name="h1", engine_url="unix:///run/berth-console-no-such-engine.sock")
    return {"host": "h1"}


def make_draining_host(world, caller):
    DockerHostFactory(name="h1", status=HostStatus.DRAINING)
    return {"host": "h1"}


def make_host_with_app(world, caller):
    """The host `gone` runs a container of acme/web (make_app_with_container), whose release v1 is current."""
    make_app_with_container(world, caller)
    App.objects.filter(tenant=world.tenant, slug="web").update(
        current_release=Release.objects.get(app__tenant=world.tenant, version=1)
    )
    return {"host": "gone"}


def make_suspended(world, caller):
    Tenant.objects.filter(pk=world.tenant.pk).update(suspended_at="2026-12-01T00:00:00Z")
    return {}


def make_failed_deployment(world, caller):
    params = make_app_with_deployment(world, caller)
    Deployment.objects.filter(pk=params["deployment"]).update(status=DeploymentStatus.FAILED, error="boom")
    return params


def make_pending_build(world, caller):
    make_app_with_pending_build(world, caller)
    return {"build": Build.objects.get(app__tenant=world.tenant, number=1).pk}


def _registered(world, params, response):
    assert response["Location"] == "/console/hosts/c-h2/"
    assert DockerHost.objects.get(name="c-h2").status == HostStatus.READY
    _one_event_by_staff(world, "host.create")


def _updated(world, params, response):
    host = DockerHost.objects.get(name="h1")
    assert (host.labels, host.capacity_containers, host.capacity_memory_mb) == ({"zone": "a"}, 7, 2048)
    _one_event_by_staff(world, "host.update")


def _drained(world, params, response):
    assert DockerHost.objects.get(name="gone").status == HostStatus.DRAINING
    assert _one_event_by_staff(world, "host.drain").diff == {"apps": ["acme/web"]}


def _ready(world, params, response):
    assert DockerHost.objects.get(name="h1").status == HostStatus.READY
    _one_event_by_staff(world, "host.update")


def _gc(dry_run: bool):
    def then(world, params, response):
        run = GcRun.objects.get(host__name="h1")
        assert (run.dry_run, run.bytes_reclaimed) == (dry_run, 0) and "stopped" in run.error
        _one_event_by_staff(world, "host.gc_dry_run" if dry_run else "host.gc")

    return then


def _quotas(world, params, response):
    tenant = Tenant.objects.get(pk=world.tenant.pk)
    assert (tenant.max_apps, tenant.max_containers, tenant.max_memory_mb) == (3, 4, 512)
    _one_event_by_staff(world, "tenant.update")


def _suspended(world, params, response):
    assert Tenant.objects.get(pk=world.tenant.pk).suspended_at is not None
    assert _one_event_by_staff(world, "tenant.suspend").diff == {"reason": "unpaid"}


def _resumed(world, params, response):
    assert Tenant.objects.get(pk=world.tenant.pk).suspended_at is None
    _one_event_by_staff(world, "tenant.resume")


def _retried(world, params, response):
    newest = Deployment.objects.filter(app__tenant=world.tenant).order_by("-pk").first()
    assert (newest.status, newest.release, newest.pk > params["deployment"]) == (
        DeploymentStatus.PENDING,
        Release.objects.get(app__tenant=world.tenant, version=1),
        True,
    )
    _one_event_by_staff(world, "deployment.retry")


def _build_cancelled(world, params, response):
    assert Build.objects.get(pk=params["build"]).status == BuildStatus.CANCELLED
    _one_event_by_staff(world, "build.cancel")


def _read(url: str, **kwargs) -> Row:
    return Row("GET", url, console_rule(), **kwargs)


def _action(url: str, then, **kwargs) -> Row:
    return Row("POST", url, console_rule(302), then=then, **kwargs)


ROWS = [
    _read("/console/"),
    _read("/console/hosts/"),
    # Registering pings the engine: the main dockerd (scripts/services.sh), as the API's row does.
    _action(
        "/console/hosts/register/",
        _registered,
        body={
            "name": "c-h2",
            "engine_url": "unix:///var/run/docker.sock",
            "address": "127.0.0.1",
            "capacity_containers": "10",
            "capacity_memory_mb": "1024",
        },
    ),
    _read(HOST, setup=make_host),
    _action(
        HOST + "update/",
        _updated,
        setup=make_host,
        body={"labels": "zone=a", "capacity_containers": "7", "capacity_memory_mb": "2048", "address": "10.0.0.1"},
    ),
    _read(HOST + "drain/", setup=make_host, name="confirm"),
    _action(HOST + "drain/", _drained, setup=make_host_with_app, body={"confirm": "yes"}),
    _action(HOST + "ready/", _ready, setup=make_draining_host),
    _read(HOST + "gc/", setup=make_host, name="confirm"),
    _action(HOST + "gc/", _gc(True), setup=make_host, body={"dry_run": "1"}, name="dry run"),
    _action(HOST + "gc/", _gc(False), setup=make_host, body={"confirm": "yes"}),
    _read("/console/tenants/"),
    _read(TENANT),
    _action(TENANT + "quotas/", _quotas, body={"max_apps": "3", "max_containers": "4", "max_memory_mb": "512"}),
    _action(TENANT + "suspend/", _suspended, body={"confirm": "{tenant}", "reason": "unpaid"}),
    _action(TENANT + "resume/", _resumed, setup=make_suspended),
    _read("/console/deployments/"),
    _read("/console/deployments/{deployment}/", setup=make_app_with_deployment),
    _action("/console/deployments/{deployment}/retry/", _retried, setup=make_failed_deployment),
    _read("/console/builds/"),
    _read("/console/builds/{build}/", setup=make_pending_build),
    _read("/console/builds/{build}/cancel/", setup=make_pending_build, name="confirm"),
    _action("/console/builds/{build}/cancel/", _build_cancelled, setup=make_pending_build, body={"confirm": "yes"}),
    _read("/console/audit/"),
    _read("/console/audit/?tenant=acme&action=tenant", name="filtered"),
]
