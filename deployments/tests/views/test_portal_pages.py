"""The portal's pages in Debian's chromium against a live server: what a viewer may not do, what another tenant's
user cannot see, the API docs served from loopback alone, and every main page at phone width."""

import os
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from deployments.logs.records import LogRecord
from deployments.logs.sinks import DatabaseSink
from deployments.models import Deployment, DeploymentStatus, Formation, Release
from deployments.services.apps import app_create
from deployments.services.config import config_update
from deployments.tests.factories import BuildFactory, ReleaseFactory
from tenants.models import ApiToken, Membership, Role
from tenants.services import member_add, tenant_create, token_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-42"
CANARY = "canary-pages-91c2"


@pytest.fixture
def acme():
    """Team acme: owner olivia, viewer victor; app web with a secret, a build, a rollout, log lines and a token."""
    users = get_user_model().objects
    owner = users.create_user(username="olivia", password=PASSWORD)
    viewer = users.create_user(username="victor", password=PASSWORD)
    tenant = tenant_create(actor=owner, slug="acme", name="Acme Inc")
    member_add(actor=owner, tenant=tenant, user=viewer, role=Role.VIEWER)
    app = app_create(tenant=tenant, slug="web", actor=owner, description="The shop front")
    config_update(app=app, values={"API_KEY": {"value": CANARY, "secret": True}, "GREETING": "hi"}, actor=owner)
    build = BuildFactory(
        app=app,
        number=1,
        log="Step 1/9 : FROM scratch\n" * 30,
        size_bytes=1_300_000,
        layers=5,
        digest="sha256:" + "ab" * 32,
        warnings=["No USER: the container runs as 65534."],
    )
    release = ReleaseFactory(app=app, version=3, build=build, summary="olivia deployed build 1")
    steps = [
        {
            "name": name,
            "status": "succeeded",
            "started_at": "2026-12-01T10:00:00+00:00",
            "finished_at": "2026-12-01T10:00:01+00:00",
            "detail": detail,
        }
        for name, detail in (("prepare", "image and network"), ("start", "1 container(s)"), ("route", ""))
    ]
    deployment = Deployment.objects.create(
        app=app, release=release, status=DeploymentStatus.SUCCEEDED, steps=steps, progress=100
    )
    DatabaseSink().write(
        [
            LogRecord(
                tenant_id=tenant.pk,
                tenant="acme",
                app_id=app.pk,
                app="web",
                release=3,
                process="web",
                index=1,
                container="c0ffee000001",
                stream="stdout",
                timestamp_ns=1_795_834_801_000_000_000 + n,
                rank=n,
                line=f"GET /products/{n} 200 " + "x" * 150,
            )
            for n in range(1, 40)
        ]
    )
    token_create(user=owner, scopes=["read", "deploy"], name="ci", tenant=tenant)
    return {"tenant": tenant, "app": app, "owner": owner, "viewer": viewer, "deployment": deployment}


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _pages(acme) -> list[str]:
    return [
        "/t/acme/",
        "/t/acme/members/",
        "/t/acme/settings/",
        "/t/acme/apps/web/",
        "/t/acme/apps/web/settings/",
        "/t/acme/apps/web/logs/",
        "/t/acme/apps/web/builds/1/",
        f"/t/acme/apps/web/deployments/{acme['deployment'].pk}/",
        "/t/acme/apps/web/router/",
        "/t/acme/webhooks/",
    ]


def _post_forms(page, own_username: str) -> list[str]:
    """The actions of the POST forms in the page's main part, but for leaving the team oneself."""
    actions = page.eval_on_selector_all(
        "main form", "forms => forms.filter(f => f.method === 'post').map(f => f.action)"
    )
    return [action for action in actions if not action.endswith(f"/members/{own_username}/remove/")]


def test_a_viewer_sees_no_write_controls_and_a_forged_post_changes_nothing(page, live_server, acme):
    _login(page, live_server, "victor")

    for path in _pages(acme):
        page.goto(live_server.url + path)
        assert _post_forms(page, "victor") == [], path

    # forged posts with the viewer's own session and CSRF token: every one refused as not found
    forged = {
        "/t/acme/apps/web/scale/": {"process_type": "web", "quantity": "5"},
        "/t/acme/apps/web/config/": {"key": "GREETING", "value": "pwned"},
        "/t/acme/apps/web/config/reveal/": {"key": "API_KEY"},
        "/t/acme/apps/web/deploy/": {"kind": "image", "image": "registry.test/evil:1"},
        "/t/acme/apps/web/rollback/": {"version": "3"},
        "/t/acme/apps/web/delete/": {"confirm": "web"},
        "/t/acme/members/add/": {"username": "victor", "role": "owner"},
        "/t/acme/members/victor/role/": {"role": "owner"},
        "/t/acme/settings/": {"name": "Pwned"},
    }
    page.goto(f"{live_server.url}/t/acme/apps/web/")
    statuses = page.evaluate(
        """async (forged) => {
            const token = document.querySelector("header input[name=csrfmiddlewaretoken]").value;
            const out = {};
            for (const [url, fields] of Object.entries(forged)) {
                const body = new FormData();
                for (const [k, v] of Object.entries(fields)) body.append(k, v);
                const answer = await fetch(url, {method: "POST", body, headers: {"X-CSRFToken": token}});
                out[url] = answer.status;
                if ((await answer.text()).includes("%s")) out[url] = "leaked";
            }
            return out;
        }""".replace("%s", CANARY),
        forged,
    )

    assert statuses == dict.fromkeys(forged, 404)
    app = acme["app"]
    assert Formation.objects.get(app=app).quantity == 1
    assert Release.objects.filter(app=app).count() == 3
    assert Membership.objects.get(user=acme["viewer"]).role == Role.VIEWER
    assert acme["tenant"].__class__.objects.get(pk=acme["tenant"].pk).name == "Acme Inc"
    assert CANARY not in page.content()


def test_another_tenants_user_gets_404_on_every_page_of_the_first(page, live_server, acme):
    get_user_model().objects.create_user(username="mallory", password=PASSWORD)
    tenant_create(actor=get_user_model().objects.get(username="mallory"), slug="globex")
    _login(page, live_server, "mallory")
    paths = [
        *_pages(acme),
        "/t/acme/audit/",
        "/t/acme/apps/web/logs/history/?q=GET",
        "/t/acme/apps/web/logs/download/",
        "/t/acme/apps/web/builds/1/summary/",
        "/teams/switch/?team=acme",
    ]

    statuses = {}
    for path in paths:
        response = page.goto(live_server.url + path)
        statuses[path] = response.status
        assert "Acme Inc" not in page.content() and "GET /products" not in page.content(), path

    assert statuses == dict.fromkeys(paths, 404)


def test_api_docs_render_with_no_request_leaving_loopback(page, live_server, db):
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    page.wait_for_selector(".opblock-tag", timeout=30_000)
    page.wait_for_load_state("networkidle")

    assert "Berth API" in page.inner_text(".swagger-ui .info .title")
    hosts = {urlsplit(url).hostname for url in requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"} or hosts == {"localhost"}, requests
    assert any(url.endswith("/api/schema/") for url in requests)
    assert any("swagger-ui-bundle.js" in url for url in requests)


def test_the_main_pages_have_no_horizontal_scroll_at_390_px(page, live_server, acme):
    page.set_viewport_size({"width": 390, "height": 844})
    _login(page, live_server, "olivia")
    paths = [
        "/",
        *_pages(acme),
        "/t/acme/audit/",
        "/account/",
        "/account/tokens/",
        "/api/docs/",
    ]

    widths = {}
    for path in paths:
        page.goto(live_server.url + path)
        if path == "/t/acme/apps/web/logs/":
            page.click("#log-search button:has-text('Search')")
            page.wait_for_selector("#history .log-line")
        widths[path] = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")

    assert {path: w for path, w in widths.items() if w[0] > w[1]} == {}
    assert ApiToken.objects.count() == 1
