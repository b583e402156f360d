"""Authorization rows of the customer pages of a tenant (format: tenants/tests/authz.py; the console: authz_console.py).

Pages refuse a member whose role does not allow the action with 404 (the page never showed them the form), send
anonymous callers and API tokens (which open no page) to the login page, and answer a successful form post with a
redirect back to the app page (302). The setups are the API rows' (deployments/tests/authz_matrix.py).
"""

from deployments.models import App, Build, BuildStatus, Certificate, Delivery, Domain, Formation, Release, Webhook
from deployments.services.certificates import certificate_upload
from deployments.tests.authz_matrix import (
    PUBLIC_DRAIN,
    PUBLIC_HOOK,
    make_app,
    make_app_with_build,
    make_app_with_container,
    make_app_with_deployment,
    make_app_with_domain,
    make_app_with_earlier_release,
    make_app_with_pending_build,
    make_app_with_secret,
    make_drain,
    make_foreign_app,
    make_foreign_build,
    make_foreign_drain,
    make_foreign_webhook,
    make_webhook,
)
from deployments.tests.tls import TestCA
from tenants.models import Scope
from tenants.tests.authz import CALLERS, Row, page_rule

TENANT = "/t/{tenant}/"
APP = "/t/{tenant}/apps/{app}/"
FOREIGN = "another tenant's object"


def _app_created(world, params, response):
    assert response["Location"] == f"/t/{world.tenant.slug}/apps/newapp/"
    assert App.objects.filter(tenant=world.tenant, slug="newapp").count() == 1


def _config_set(world, params, response):
    latest = Release.objects.filter(app__tenant=world.tenant, app__slug="web").order_by("-version").first()
    assert (latest.version, sorted(latest.config)) == (2, ["KEY"])


def _rolled_back(world, params, response):
    latest = Release.objects.filter(app__tenant=world.tenant, app__slug="web").order_by("-version").first()
    assert (latest.version, latest.rollback_of) == (3, 1)


def _scaled(world, params, response):
    assert Formation.objects.get(app__tenant=world.tenant, app__slug="web", process_type="web").quantity == 2


def _cancelled(world, params, response):
    assert Build.objects.get(app__tenant=world.tenant, app__slug="web", number=1).status == BuildStatus.CANCELLED


def _domain_added(world, params, response):
    assert list(Domain.objects.filter(app__tenant=world.tenant).values_list("hostname", flat=True)) == [
        "shop.example.com"
    ]


def _domain_removed(world, params, response):
    assert not Domain.objects.filter(hostname="www.example.com").exists()


def make_app_with_certificate(world, caller):
    """The app web with www.example.com and an uploaded certificate for it."""
    params = make_app_with_domain(world, caller)
    issued = TestCA().issue("www.example.com")
    domain = Domain.objects.get(app__tenant=world.tenant, hostname="www.example.com")
    owner = world.users["owner"]
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=owner)
    return params


def _certificate_removed(world, params, response):
    assert not Certificate.objects.filter(domain__app__tenant=world.tenant).exists()


def _web(world) -> App:
    return App.objects.get(tenant=world.tenant, slug="web")


def _deploy_started(world, params, response):
    build = Build.objects.get(app=_web(world))
    assert response["Location"] == f"/t/acme/apps/web/builds/{build.number}/"
    assert (build.source_kind, build.source.get("image")) == ("image", "nginx:1.27")


def _described(world, params, response):
    assert _web(world).description == "The shop"


def _formation_saved(world, params, response):
    row = Formation.objects.get(app=_web(world), process_type="web")
    assert (row.quantity, row.memory_mb) == (2, 512)


def _release_command_set(world, params, response):
    assert _web(world).release_command == "manage.py migrate"


def _deleted(world, params, response):
    assert response["Location"] == "/t/acme/" and not App.objects.filter(tenant=world.tenant, slug="web").exists()


def _revealed(world, params, response):
    assert b"s3cret" in response.content and response["Cache-Control"] == "no-store"


def _formation_body(world, params):
    # The form's fields carry the process type as their prefix (FormationForm.for_row).
    fields = {"quantity": "2", "memory": "512m", "cpu": "0.5", "healthcheck_kind": "none", "healthcheck_timeout": "5"}
    return {"process_type": "web", **{f"web-{name}": value for name, value in fields.items()}}


ROWS = [
    Row("GET", TENANT, page_rule(Scope.READ)),
    Row("POST", TENANT + "apps/", page_rule(Scope.WRITE, ok=302), body={"slug": "newapp"}, then=_app_created),
    Row("GET", APP, page_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "logs/", page_rule(Scope.READ), setup=make_app),
    # The terminal page (an attached run, an exec): what may open the WebSockets behind it may see it.
    Row("GET", APP + "terminal/", page_rule(Scope.DEPLOY), setup=make_app),
    Row("GET", APP + "terminal/", page_rule(Scope.DEPLOY, ok=404), setup=make_foreign_app, name=FOREIGN),
    # An app without a release: the run is refused with a message on the page, nothing is created.
    Row("POST", APP + "terminal/run/", page_rule(Scope.DEPLOY, ok=302), setup=make_app, body={"command": "true"}),
    Row(
        "POST",
        APP + "config/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body={"key": "KEY", "value": "value"},
        then=_config_set,
    ),
    Row(
        "POST",
        APP + "rollback/",
        page_rule(Scope.DEPLOY, ok=302),
        setup=make_app_with_earlier_release,
        body={"version": "1"},
        then=_rolled_back,
    ),
    Row(
        "POST",
        APP + "scale/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body={"process_type": "web", "quantity": "2"},
        then=_scaled,
    ),
    Row(
        "POST",
        APP + "builds/1/cancel/",
        page_rule(Scope.DEPLOY, ok=302),
        setup=make_app_with_pending_build,
        then=_cancelled,
    ),
    Row(
        "POST",
        APP + "domains/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body={"hostname": "shop.example.com"},
        then=_domain_added,
    ),
    Row(
        "POST",
        APP + "domains/remove/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app_with_domain,
        body={"hostname": "www.example.com"},
        then=_domain_removed,
    ),
    Row(
        "POST",
        APP + "domains/certificate/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app_with_certificate,
        body={"hostname": "www.example.com", "action": "remove"},
        then=_certificate_removed,
    ),
    Row("GET", APP + "logs/history/", page_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "logs/download/", page_rule(Scope.READ), setup=make_app),
    Row("GET", APP + "builds/1/", page_rule(Scope.READ), setup=make_app_with_build),
    Row("GET", APP + "builds/1/summary/", page_rule(Scope.READ), setup=make_app_with_build),
    Row("GET", APP + "deployments/{deployment}/", page_rule(Scope.READ), setup=make_app_with_deployment),
    Row(
        "POST",
        APP + "deploy/",
        page_rule(Scope.DEPLOY, ok=302),
        setup=make_app,
        body={"kind": "image", "image": "nginx:1.27"},
        then=_deploy_started,
    ),
    Row("GET", APP + "settings/", page_rule(Scope.READ), setup=make_app),
    Row(
        "POST",
        APP + "description/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body={"description": "The shop"},
        then=_described,
    ),
    Row(
        "POST",
        APP + "formation/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body=_formation_body,
        then=_formation_saved,
    ),
    Row(
        "POST",
        APP + "release-command/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body={"command": "manage.py migrate"},
        then=_release_command_set,
    ),
    Row(
        "POST",
        APP + "delete/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=make_app,
        body={"confirm": "web"},
        then=_deleted,
    ),
    Row(
        "POST",
        APP + "config/reveal/",
        page_rule(Scope.ADMIN, min_role="admin"),
        setup=make_app_with_secret,
        body={"key": "KEY"},
        then=_revealed,
    ),
    # The engine does not answer: the restart is refused with a message on the app page, for those who may ask.
    Row(
        "POST",
        APP + "containers/{container}/restart/",
        page_rule(Scope.DEPLOY, ok=302),
        setup=make_app_with_container,
    ),
    # Another tenant's app named under {tenant}: 404 to every member, and nothing changes.
    Row("GET", APP, page_rule(Scope.READ, ok=404), setup=make_foreign_app, name=FOREIGN),
    Row(
        "POST",
        APP + "config/",
        page_rule(Scope.WRITE, ok=404),
        setup=make_foreign_app,
        body={"key": "K", "value": "v"},
        name=FOREIGN,
    ),
    Row(
        "POST",
        APP + "builds/1/cancel/",
        page_rule(Scope.DEPLOY, ok=404),
        setup=make_foreign_build,
        name=FOREIGN,
    ),
    Row(
        "POST",
        APP + "domains/remove/",
        page_rule(Scope.WRITE, ok=404),
        setup=make_foreign_app,
        body={"hostname": "theirs.example.com"},
        name=FOREIGN,
    ),
    # Prometheus text for operators: staff (a session or an unrestricted staff token) or the scrape token only.
    Row(
        "GET",
        "/metrics",
        {
            **{name: 403 for name in CALLERS},
            "anonymous": 401,
            "token_expired": 401,
            "staff": 200,
            "staff_token_read": 200,
        },
    ),
]


# Router settings, drains and webhooks (public address literals: saving one resolves nothing and sends nothing).


def _router_saved(world, params, response):
    row = _web(world).router_settings
    assert (row.max_body_mb, row.maintenance, row.allow) == (5, True, ["203.0.113.0/24"])


def _drain_added(world, params, response):
    assert list(_web(world).drains.values_list("url", flat=True)) == [PUBLIC_DRAIN]


def _drain_removed(world, params, response):
    assert not _web(world).drains.exists()


def _webhook_created(world, params, response):
    assert (response.status_code, response["Cache-Control"]) == (200, "no-store")
    hook = Webhook.objects.get(tenant=world.tenant)
    assert (hook.url, hook.events) == (PUBLIC_HOOK, ["release.failed"])
    assert b"whsec_" in response.content


def _webhook_deleted(world, params, response):
    assert not Webhook.objects.filter(tenant=world.tenant).exists()


def _redelivered(world, params, response):
    assert Delivery.objects.filter(tenant=world.tenant, redelivery_of=params["delivery"]).count() == 1


ROUTER_FORM = {
    "max_body_mb": "5",
    "connect_timeout_s": "5",
    "read_timeout_s": "60",
    "maintenance": "on",
    "maintenance_page": "<h1>Back soon</h1>",
    "allow": "203.0.113.0/24",
}
WEBHOOKS = TENANT + "webhooks/"

ROWS += [
    Row("GET", APP + "router/", page_rule(Scope.READ), setup=make_app),
    Row(
        "POST",
        APP + "router/settings/",
        page_rule(Scope.WRITE, ok=302),
        setup=make_app,
        body=ROUTER_FORM,
        then=_router_saved,
    ),
    Row(
        "POST",
        APP + "drains/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=make_app,
        body={"url": PUBLIC_DRAIN},
        then=_drain_added,
    ),
    Row(
        "POST",
        APP + "drains/{drain}/remove/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=make_drain,
        then=_drain_removed,
    ),
    Row(
        "POST",
        APP + "drains/{drain}/remove/",
        page_rule(Scope.ADMIN, ok=404),
        setup=make_foreign_drain,
        name=FOREIGN,
    ),
    Row("GET", WEBHOOKS, page_rule(Scope.READ), setup=make_webhook),
    Row(
        "POST",
        WEBHOOKS + "new/",
        page_rule(Scope.ADMIN, min_role="admin"),
        body={"url": PUBLIC_HOOK, "events": ["release.failed"]},
        then=_webhook_created,
    ),
    Row("GET", WEBHOOKS + "{webhook}/", page_rule(Scope.READ), setup=make_webhook),
    Row("GET", WEBHOOKS + "{webhook}/", page_rule(Scope.READ, ok=404), setup=make_foreign_webhook, name=FOREIGN),
    Row(
        "POST",
        WEBHOOKS + "{webhook}/delete/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=make_webhook,
        then=_webhook_deleted,
    ),
    Row(
        "POST",
        WEBHOOKS + "{webhook}/deliveries/{delivery}/redeliver/",
        page_rule(Scope.ADMIN, ok=302, min_role="admin"),
        setup=make_webhook,
        then=_redelivered,
    ),
    Row(
        "POST",
        WEBHOOKS + "{webhook}/deliveries/{delivery}/redeliver/",
        page_rule(Scope.ADMIN, ok=404),
        setup=make_foreign_webhook,
        name=FOREIGN,
    ),
]
