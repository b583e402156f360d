"""Authorization rows of the apps, builds, releases, rollouts, logs and hosts routes.

The format is defined in tenants/tests/authz.py; portal/tests/test_authorization_matrix.py runs these rows with
the tenants rows and fails when a route under /api/v1/ answers a method no row calls. One Row per route and
method (more when the outcome depends on the body). Every caller gets a fresh world (a savepoint per call):
`other_owner` and `token_other_tenant` must get 404 and a refused call must leave every table of tenants,
deployments and auth unchanged, which run_row() checks itself.

Keep the rows grouped by area, one comment per area, with the setup helpers of an area just above its rows.
Setups create what the URL names through the services (as the API would) or the factories; transaction.on_commit
never fires inside the savepoint, so no rollout, build or engine call starts behind a row's back.
"""

from deployments.models import (
    App,
    BuildStatus,
    Certificate,
    Cluster,
    ContainerState,
    Deployment,
    Domain,
    Release,
    ReleaseStatus,
    RouterSettings,
)
from deployments.services.apps import app_create
from deployments.services.certificates import certificate_upload
from deployments.services.config import config_update
from deployments.services.domains import domain_add
from deployments.tests.factories import BuildFactory, DockerHostFactory
from deployments.tests.tls import TestCA
from tenants.models import Scope
from tenants.tests.authz import Row, staff_rule, tenant_rule

APPS = "/api/v1/tenants/{tenant}/apps/"
APP = "/api/v1/tenants/{tenant}/apps/{app}/"
HOSTS = "/api/v1/hosts/"
HOST = "/api/v1/hosts/{host}/"


def _app(world):
    return app_create(tenant=world.tenant, slug="web", actor=world.users["owner"])


def make_app(world, caller):
    _app(world)
    return {"app": "web"}


# Apps

ROWS = [
    Row("GET", APPS, tenant_rule(Scope.READ)),
    Row("POST", APPS, tenant_rule(Scope.WRITE, ok=201), body={"slug": "newapp"}),
    Row("GET", APP, tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", APP, tenant_rule(Scope.WRITE), setup=make_app, body={"description": "Renamed"}),
    Row("DELETE", APP, tenant_rule(Scope.ADMIN, ok=204), setup=make_app),
]


# Config


def make_app_with_secret(world, caller):
    app = _app(world)
    config_update(app=app, values={"KEY": {"value": "s3cret", "secret": True}}, actor=world.users["owner"])
    return {"app": app.slug}


def _revealed(world, params, response):
    assert response.json() == {"KEY": "s3cret"}


CONFIG = APP + "config/"

ROWS += [
    Row("GET", CONFIG, tenant_rule(Scope.READ), setup=make_app_with_secret),
    Row(
        "GET",
        CONFIG + "?reveal=KEY",
        tenant_rule(Scope.ADMIN),
        setup=make_app_with_secret,
        name="reveal",
        then=_revealed,
    ),
    Row("PATCH", CONFIG, tenant_rule(Scope.WRITE), setup=make_app, body={"KEY": "value"}),
]


# Releases and rollback


def make_app_with_earlier_release(world, caller):
    """v1 went live, v2 (a config change) is the latest: rolling back to v1 is a real change."""
    app = _app(world)
    Release.objects.filter(app=app, version=1).update(status=ReleaseStatus.SUCCEEDED)
    config_update(app=app, values={"KEY": "value"}, actor=world.users["owner"])
    return {"app": app.slug}


def _rolled_back_to_v1(world, params, response):
    assert (response.json()["version"], response.json()["rollback_of"], response.json()["config"]) == (3, 1, {})


ROWS += [
    Row("GET", APP + "releases/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "releases/1/", tenant_rule(Scope.READ), setup=make_app),
    Row(
        "POST",
        APP + "rollback/",
        tenant_rule(Scope.DEPLOY, ok=201),
        setup=make_app_with_earlier_release,
        body={"version": 1},
        then=_rolled_back_to_v1,
    ),
]


# Formation

FORMATION = APP + "formation/"

ROWS += [
    Row("GET", FORMATION, tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", FORMATION, tenant_rule(Scope.WRITE), setup=make_app, body={"web": {"quantity": 2}}),
]


# Builds


def make_app_with_build(world, caller):
    app = _app(world)
    BuildFactory(app=app, number=1)
    return {"app": app.slug}


def make_app_with_pending_build(world, caller):
    app = _app(world)
    BuildFactory(app=app, number=1, status=BuildStatus.PENDING, image="")
    return {"app": app.slug}


def _cancelled(world, params, response):
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_by"] in {user.username for user in world.users.values()}


ROWS += [
    Row("GET", APP + "builds/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "builds/1/", tenant_rule(Scope.READ), setup=make_app_with_build),
    Row("POST", APP + "builds/", tenant_rule(Scope.DEPLOY, ok=201), setup=make_app, body={"image": "busybox:1"}),
    Row("GET", APP + "build-cache/", tenant_rule(Scope.READ), setup=make_app),
    Row("DELETE", APP + "build-cache/", tenant_rule(Scope.DEPLOY, ok=204), setup=make_app),
    Row(
        "POST",
        APP + "builds/1/cancel/",
        tenant_rule(Scope.DEPLOY),
        setup=make_app_with_pending_build,
        then=_cancelled,
    ),
]


# Deployments and containers


def make_app_with_deployment(world, caller):
    app = _app(world)
    deployment = Deployment.objects.create(app=app, release=Release.objects.get(app=app, version=1))
    return {"app": app.slug, "deployment": deployment.pk}


def make_app_with_container(world, caller):
    """A running container on a host whose engine does not answer: the restart reaches the engine and fails."""
    app = _app(world)
    host = DockerHostFactory(name="gone", engine_url="unix:///nonexistent/docker.sock")
    host.containers.create(
        app=app,
        release=Release.objects.get(app=app, version=1),
        process_type="web",
        index=1,
        engine_id="0123456789ab" * 4,
        name="berth-acme-web-v1-web-1-000000",
        state=ContainerState.RUNNING,
    )
    return {"app": app.slug, "container": "0123456789ab"}


ROWS += [
    Row("GET", APP + "deployments/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "deployments/{deployment}/", tenant_rule(Scope.READ), setup=make_app_with_deployment),
    Row("GET", APP + "containers/", tenant_rule(Scope.READ), setup=make_app),
    # Without a live engine the allowed callers reach the engine and get its error (400, nothing changed);
    # tests/api of the containers restart a real one.
    Row(
        "POST",
        APP + "containers/{container}/restart/",
        tenant_rule(Scope.DEPLOY, ok=400),
        setup=make_app_with_container,
    ),
]


# Logs

ROWS += [
    Row("GET", APP + "logs/", tenant_rule(Scope.READ), setup=make_app),
]


# Custom domains


DOMAINS = APP + "domains/"


def make_app_with_domain(world, caller):
    domain_add(app=_app(world), hostname="www.example.com", actor=world.users["owner"])
    return {"app": "web", "domain": "www.example.com"}


def _domain_added(world, params, response):
    assert response.json()["hostname"] == "shop.example.com"
    assert Domain.objects.filter(app__tenant=world.tenant, hostname="shop.example.com").count() == 1


def _domain_removed(world, params, response):
    assert not Domain.objects.filter(hostname="www.example.com").exists()


ROWS += [
    Row("GET", DOMAINS, tenant_rule(Scope.READ), setup=make_app_with_domain),
    Row(
        "POST",
        DOMAINS,
        tenant_rule(Scope.WRITE, ok=201),
        setup=make_app,
        body={"hostname": "shop.example.com"},
        then=_domain_added,
    ),
    Row("GET", DOMAINS + "{domain}/", tenant_rule(Scope.READ), setup=make_app_with_domain),
    Row(
        "DELETE",
        DOMAINS + "{domain}/",
        tenant_rule(Scope.WRITE, ok=204),
        setup=make_app_with_domain,
        then=_domain_removed,
    ),
]


# A custom domain's certificate

CERTIFICATE = DOMAINS + "{domain}/certificate/"
_ISSUED = TestCA().issue("www.example.com")
PEM_BODY = {"certificate": _ISSUED.chain_pem, "private_key": _ISSUED.key_pem}


def make_domain_with_certificate(world, caller):
    params = make_app_with_domain(world, caller)
    domain = Domain.objects.get(app__tenant=world.tenant, hostname=params["domain"])
    certificate_upload(domain=domain, actor=world.users["owner"], **PEM_BODY)
    return params


def _certificate_uploaded(world, params, response):
    assert response.json()["state"] == "issued"
    assert Certificate.objects.filter(domain__app__tenant=world.tenant, domain__hostname="www.example.com").count() == 1


def _certificate_removed(world, params, response):
    assert not Certificate.objects.exists()


ROWS += [
    Row(
        "PUT",
        CERTIFICATE,
        tenant_rule(Scope.WRITE),
        setup=make_app_with_domain,
        body=PEM_BODY,
        then=_certificate_uploaded,
    ),
    Row(
        "DELETE",
        CERTIFICATE,
        tenant_rule(Scope.WRITE, ok=204),
        setup=make_domain_with_certificate,
        then=_certificate_removed,
    ),
]


# Router settings

ROUTER = APP + "router/"


def _maintenance_on(world, params, response):
    assert response.json()["maintenance"] is True
    assert RouterSettings.objects.filter(app__tenant=world.tenant, maintenance=True).count() == 1


ROWS += [
    Row("GET", ROUTER, tenant_rule(Scope.READ), setup=make_app),
    Row("PATCH", ROUTER, tenant_rule(Scope.WRITE), setup=make_app, body={"maintenance": True}, then=_maintenance_on),
]


# Another tenant's objects named under {tenant}: 404 to every caller, and nothing changes


def make_foreign_app(world, caller):
    """Globex's app `theirs`, with a deployment, a running container and a domain, and acme's own app `web`."""
    theirs = app_create(tenant=world.other_tenant, slug="theirs", actor=world.users["other_owner"])
    domain_add(app=theirs, hostname="theirs.example.com", actor=world.users["other_owner"])
    release = Release.objects.get(app=theirs, version=1)
    deployment = Deployment.objects.create(app=theirs, release=release)
    host = DockerHostFactory(name="gone", engine_url="unix:///nonexistent/docker.sock")
    host.containers.create(
        app=theirs,
        release=release,
        process_type="web",
        index=1,
        engine_id="0123456789ab" * 4,
        name="berth-globex-theirs-v1-web-1-000000",
        state=ContainerState.RUNNING,
    )
    _app(world)
    return {
        "app": "theirs",
        "deployment": deployment.pk,
        "container": "0123456789ab",
        "domain": "theirs.example.com",
    }


def make_foreign_build(world, caller):
    """Globex's app `theirs` with a pending build 1, named under acme."""
    params = make_foreign_app(world, caller)
    theirs = App.objects.get(tenant=world.other_tenant, slug=params["app"])
    BuildFactory(app=theirs, number=1, status=BuildStatus.PENDING, image="")
    return params


_THEIRS = TestCA().issue("theirs.example.com")


def make_foreign_certificate(world, caller):
    """make_foreign_app, and an uploaded certificate on globex's domain."""
    params = make_foreign_app(world, caller)
    domain = Domain.objects.get(hostname=params["domain"])
    certificate_upload(
        domain=domain, certificate=_THEIRS.chain_pem, private_key=_THEIRS.key_pem, actor=world.users["other_owner"]
    )
    return params


FOREIGN = "another tenant's object"

ROWS += [
    Row("GET", APP, tenant_rule(Scope.READ, ok=404), setup=make_foreign_app, name=FOREIGN),
    Row("DELETE", APP, tenant_rule(Scope.ADMIN, ok=404), setup=make_foreign_app, name=FOREIGN),
    Row("PATCH", CONFIG, tenant_rule(Scope.WRITE, ok=404), setup=make_foreign_app, body={"K": "v"}, name=FOREIGN),
    Row(
        "POST",
        APP + "rollback/",
        tenant_rule(Scope.DEPLOY, ok=404),
        setup=make_foreign_app,
        body={"version": 1},
        name=FOREIGN,
    ),
    Row("POST", APP + "builds/1/cancel/", tenant_rule(Scope.DEPLOY, ok=404), setup=make_foreign_build, name=FOREIGN),
    Row("DELETE", APP + "build-cache/", tenant_rule(Scope.DEPLOY, ok=404), setup=make_foreign_app, name=FOREIGN),
    Row(
        "GET",
        "/api/v1/tenants/{tenant}/apps/web/deployments/{deployment}/",
        tenant_rule(Scope.READ, ok=404),
        setup=make_foreign_app,
        name=FOREIGN,
    ),
    Row(
        "POST",
        "/api/v1/tenants/{tenant}/apps/web/containers/{container}/restart/",
        tenant_rule(Scope.DEPLOY, ok=404),
        setup=make_foreign_app,
        name=FOREIGN,
    ),
    Row("GET", DOMAINS, tenant_rule(Scope.READ, ok=404), setup=make_foreign_app, name=FOREIGN),
    Row(
        "POST",
        DOMAINS,
        tenant_rule(Scope.WRITE, ok=404),
        setup=make_foreign_app,
        body={"hostname": "shop.example.com"},
        name=FOREIGN,
    ),
    # acme's own app `web`, globex's domain name
    Row(
        "DELETE",
        "/api/v1/tenants/{tenant}/apps/web/domains/{domain}/",
        tenant_rule(Scope.WRITE, ok=404),
        setup=make_foreign_app,
        name=FOREIGN,
    ),
    Row(
        "PUT",
        CERTIFICATE,
        tenant_rule(Scope.WRITE, ok=404),
        setup=make_foreign_certificate,
        body=PEM_BODY,
        name=FOREIGN,
    ),
    Row("DELETE", CERTIFICATE, tenant_rule(Scope.WRITE, ok=404), setup=make_foreign_certificate, name=FOREIGN),
    Row(
        "DELETE",
        "/api/v1/tenants/{tenant}/apps/web/domains/{domain}/certificate/",
        tenant_rule(Scope.WRITE, ok=404),
        setup=make_foreign_certificate,
        name=FOREIGN + ", under acme's app",
    ),
]


# Hosts (staff only)


def make_host(world, caller):
    DockerHostFactory(name="h1")
    return {"host": "h1"}


ROWS += [
    Row("GET", HOSTS, staff_rule()),
    # Registering a host pings its engine: the main dockerd, which `make test` starts (scripts/services.sh).
    Row(
        "POST",
        HOSTS,
        staff_rule(Scope.ADMIN, ok=201),
        body={"name": "h2", "engine_url": "unix:///var/run/docker.sock"},
    ),
    Row("GET", HOST, staff_rule(), setup=make_host),
    Row("PATCH", HOST, staff_rule(Scope.ADMIN), setup=make_host, body={"labels": {"zone": "a"}}),
    Row("DELETE", HOST, staff_rule(Scope.ADMIN, ok=204), setup=make_host),
]


# Swarm clusters (staff only)


def make_cluster(world, caller):
    Cluster.objects.create(name="c1", manager_url="unix:///run/berth-no-such-manager.sock")
    return {"cluster": "c1"}


def make_cluster_and_app(world, caller):
    _app(world)
    return make_cluster(world, caller)


def make_app_on_cluster(world, caller):
    params = make_cluster(world, caller)
    App.objects.filter(pk=_app(world).pk).update(cluster=Cluster.objects.get(name="c1"))
    return {**params, "app": "web"}


ROWS += [
    Row("GET", "/api/v1/clusters/", staff_rule()),
    # The main dockerd answers but is no Swarm manager: staff get as far as that refusal, nothing is saved.
    Row(
        "POST",
        "/api/v1/clusters/",
        staff_rule(Scope.ADMIN, ok=400),
        body={"name": "c2", "manager_url": "unix:///var/run/docker.sock"},
    ),
    Row("GET", "/api/v1/clusters/{cluster}/", staff_rule(), setup=make_cluster),
    Row("DELETE", "/api/v1/clusters/{cluster}/", staff_rule(Scope.ADMIN, ok=204), setup=make_cluster),
    # c1's manager does not answer: staff get as far as that refusal, no host is saved.
    Row(
        "POST",
        "/api/v1/clusters/{cluster}/nodes/",
        staff_rule(Scope.ADMIN, ok=400),
        setup=make_cluster,
        body={"name": "n1", "engine_url": "unix:///var/run/docker.sock"},
    ),
    Row(
        "POST",
        "/api/v1/clusters/{cluster}/apps/",
        staff_rule(Scope.ADMIN),
        setup=make_cluster_and_app,
        body={"tenant": "acme", "app": "web"},
    ),
    Row(
        "DELETE",
        "/api/v1/clusters/{cluster}/apps/{tenant}/{app}/",
        staff_rule(Scope.ADMIN),
        setup=make_app_on_cluster,
    ),
]


# Garbage collection (staff)


def make_gc_host(world, caller):
    """A host whose engine never answers: a run is recorded with its error, and nothing is removed anywhere."""
    DockerHostFactory(name="gc-host", engine_url="unix:///run/berth-gc-no-such-engine.sock")
    return {"host": "gc-host"}


def _gc_recorded(world, params, response):
    assert response.json()["host"] == "gc-host"
    assert response.json()["dry_run"] is True


ROWS += [
    Row("GET", "/api/v1/hosts/{host}/gc/", staff_rule(), setup=make_gc_host),
    Row(
        "POST",
        "/api/v1/hosts/{host}/gc/",
        staff_rule(Scope.ADMIN, ok=201),
        body={"dry_run": True},
        setup=make_gc_host,
        then=_gc_recorded,
    ),
]


# Webhooks and their deliveries (the URL is a public address literal: saving it resolves nothing, sends nothing)

WEBHOOKS = "/api/v1/tenants/{tenant}/webhooks/"
WEBHOOK = WEBHOOKS + "{webhook}/"
PUBLIC_HOOK = "https://1.1.1.1/hooks"


def _webhook_with_delivery(tenant, owner):
    from deployments.models import Delivery
    from deployments.services.webhooks import webhook_create

    webhook, _secret = webhook_create(tenant=tenant, url=PUBLIC_HOOK, events=["app.created"], actor=owner)
    delivery = Delivery.objects.create(tenant=tenant, webhook=webhook, event="app.created", payload={}, status="failed")
    return {"webhook": webhook.pk, "delivery": delivery.pk}


def make_webhook(world, caller):
    return _webhook_with_delivery(world.tenant, world.users["owner"])


def make_foreign_webhook(world, caller):
    return _webhook_with_delivery(world.other_tenant, world.users["other_owner"])


def _webhook_created(world, params, response):
    assert response.json()["secret"].startswith("whsec_")
    assert response.json()["events"] == ["release.failed"]


ROWS += [
    Row("GET", WEBHOOKS, tenant_rule(Scope.READ), setup=make_webhook),
    Row(
        "POST",
        WEBHOOKS,
        tenant_rule(Scope.ADMIN, ok=201),
        body={"url": PUBLIC_HOOK, "events": ["release.failed"]},
        then=_webhook_created,
    ),
    Row("GET", WEBHOOK, tenant_rule(Scope.READ), setup=make_webhook),
    Row("PATCH", WEBHOOK, tenant_rule(Scope.ADMIN), setup=make_webhook, body={"active": False}),
    Row("DELETE", WEBHOOK, tenant_rule(Scope.ADMIN, ok=204), setup=make_webhook),
    Row("GET", WEBHOOK + "deliveries/", tenant_rule(Scope.READ), setup=make_webhook),
    Row("POST", WEBHOOK + "deliveries/{delivery}/redeliver/", tenant_rule(Scope.ADMIN, ok=201), setup=make_webhook),
    Row("GET", WEBHOOK, tenant_rule(Scope.READ, ok=404), setup=make_foreign_webhook, name=FOREIGN),
    Row(
        "PATCH",
        WEBHOOK,
        tenant_rule(Scope.ADMIN, ok=404),
        setup=make_foreign_webhook,
        body={"active": False},
        name=FOREIGN,
    ),
    Row("DELETE", WEBHOOK, tenant_rule(Scope.ADMIN, ok=404), setup=make_foreign_webhook, name=FOREIGN),
    Row("GET", WEBHOOK + "deliveries/", tenant_rule(Scope.READ, ok=404), setup=make_foreign_webhook, name=FOREIGN),
    Row(
        "POST",
        WEBHOOK + "deliveries/{delivery}/redeliver/",
        tenant_rule(Scope.ADMIN, ok=404),
        setup=make_foreign_webhook,
        name=FOREIGN,
    ),
]


# Log drains (a public address literal: adding one resolves nothing and sends nothing inside the savepoint)

DRAINS = APP + "drains/"
PUBLIC_DRAIN = "syslog+tls://1.1.1.1:6514"


def _app_with_drain(world, tenant, owner, slug):
    from deployments.services.drains import drain_add

    app = app_create(tenant=tenant, slug=slug, actor=owner)
    return drain_add(app=app, url=PUBLIC_DRAIN, actor=owner)


def make_drain(world, caller):
    drain = _app_with_drain(world, world.tenant, world.users["owner"], "web")
    return {"app": "web", "drain": drain.pk}


def make_foreign_drain(world, caller):
    """Globex's app `theirs` with a drain, and acme's own app `web`: the drain named under acme's app."""
    drain = _app_with_drain(world, world.other_tenant, world.users["other_owner"], "theirs")
    _app(world)
    return {"app": "web", "drain": drain.pk}


def _drain_added(world, params, response):
    assert (response.json()["url"], response.json()["dropped"]) == (PUBLIC_DRAIN, 0)


ROWS += [
    Row("GET", DRAINS, tenant_rule(Scope.READ), setup=make_drain),
    Row(
        "POST", DRAINS, tenant_rule(Scope.ADMIN, ok=201), setup=make_app, body={"url": PUBLIC_DRAIN}, then=_drain_added
    ),
    Row("DELETE", DRAINS + "{drain}/", tenant_rule(Scope.ADMIN, ok=204), setup=make_drain),
    Row("DELETE", DRAINS + "{drain}/", tenant_rule(Scope.ADMIN, ok=404), setup=make_foreign_drain, name=FOREIGN),
    Row(
        "GET",
        "/api/v1/tenants/{tenant}/apps/theirs/drains/",
        tenant_rule(Scope.READ, ok=404),
        setup=make_foreign_drain,
        name=FOREIGN,
    ),
]


# The tenant's log sink (admins only). Without BERTH_OUTBOUND_ALLOW a loopback cluster is refused (400, nothing
# changed) before any connection; tests/api/test_log_sink.py sets a real one.

LOG_SINK = "/api/v1/tenants/{tenant}/log-sink/"


def make_log_sink(world, caller):
    from deployments.models import SinkKind
    from deployments.services.logs import log_sink_set

    log_sink_set(actor=world.users["owner"], tenant=world.tenant, kind=SinkKind.OPENSEARCH, url="http://127.0.0.1:9")
    return {}


ROWS += [
    Row("GET", LOG_SINK, tenant_rule(Scope.ADMIN), setup=make_log_sink),
    Row("PUT", LOG_SINK, tenant_rule(Scope.ADMIN, ok=400), body={"url": "http://127.0.0.1:9/"}),
    Row("DELETE", LOG_SINK, tenant_rule(Scope.ADMIN, ok=204), setup=make_log_sink),
]


# One-off runs (on_commit never fires inside the savepoint, so no container starts)

RUNS = APP + "runs/"


def _app_with_image(world, tenant, owner, slug):
    from deployments.models import Run

    app = app_create(tenant=tenant, slug=slug, actor=owner)
    build = BuildFactory(app=app, number=1, image="berth-test/httpd:latest")
    Release.objects.filter(app=app, version=1).update(build=build)  # a test fixture, below the immutability guard
    release = Release.objects.get(app=app, version=1)
    App.objects.filter(pk=app.pk).update(current_release=release)
    Run.objects.create(tenant=tenant, app=app, release=release, number=1, command=["true"], created_by=owner)
    return app


def make_app_with_run(world, caller):
    _app_with_image(world, world.tenant, world.users["owner"], "web")
    return {"app": "web", "run": 1}


def make_foreign_run(world, caller):
    _app_with_image(world, world.other_tenant, world.users["other_owner"], "theirs")
    return {"app": "theirs", "run": 1}


def _run_queued(world, params, response):
    assert (response.json()["number"], response.json()["status"], response.json()["process"]) == (2, "pending", "run.2")


ROWS += [
    Row("GET", RUNS, tenant_rule(Scope.READ), setup=make_app_with_run),
    Row(
        "POST",
        RUNS,
        tenant_rule(Scope.DEPLOY, ok=201),
        setup=make_app_with_run,
        body={"command": ["sh", "-c", "echo hi"]},
        then=_run_queued,
    ),
    Row("GET", RUNS + "{run}/", tenant_rule(Scope.READ), setup=make_app_with_run),
    Row("GET", RUNS + "{run}/", tenant_rule(Scope.READ, ok=404), setup=make_foreign_run, name=FOREIGN),
    Row(
        "POST",
        RUNS,
        tenant_rule(Scope.DEPLOY, ok=404),
        setup=make_foreign_run,
        body={"command": ["true"]},
        name=FOREIGN,
    ),
]


# Metrics and usage


def _usage_csv(world, params, response):
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0].startswith("month,app,process_type,")


ROWS += [
    Row("GET", APP + "metrics/", tenant_rule(Scope.READ), setup=make_app),
    Row("GET", "/api/v1/tenants/{tenant}/usage/", tenant_rule(Scope.READ)),
    Row("GET", "/api/v1/tenants/{tenant}/usage/?format=csv", tenant_rule(Scope.READ), name="csv", then=_usage_csv),
    Row("GET", HOST + "metrics/", staff_rule(), setup=make_host),
]
