"""The customer portal as a crawler sees it: a team with one of everything, the pages reachable from its home page,
and the forms those pages hold.

The CSRF and canary tests (test_csrf_forms.py, test_canary.py) walk what this module finds rather than a hand list,
so a new page or form is covered as soon as a link or a form leads to it; their coverage checks compare what was found
with the URLconf, so a route no page leads to fails them until the world below makes it reachable.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from deployments.engine import fake as fake_engine_module
from deployments.engine.fake import FakeContainer, FakeEngine
from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, RELEASE_LABEL, TENANT_LABEL
from deployments.logs.records import LogRecord
from deployments.logs.sinks import DatabaseSink
from deployments.models import (
    BuildStatus,
    ContainerState,
    Delivery,
    Deployment,
    DeploymentStatus,
    Drain,
    Release,
    ReleaseStatus,
)
from deployments.services.apps import app_create
from deployments.services.config import config_update
from deployments.services.domains import domain_add
from deployments.services.drains import drain_add
from deployments.services.webhooks import webhook_create
from deployments.tests.factories import BuildFactory, DockerHostFactory
from tenants.invitations import invitation_send
from tenants.models import Role
from tenants.services import member_add, tenant_create, token_create
from tenants.tests.authz import NOT_PAGES, page_routes

PASSWORD = "correct-horse-42"
# The secret value every test of this module hunts for in what the portal sends.
CANARY = "canary-7f3a91d2-secret"
# Routes the crawl does not walk: the staff console and Django's admin (staff pages, another audience),
# /metrics (Prometheus text, in the page matrix), the API (its own tests) and the static files.
SKIPPED = ("console/", "metrics", "static/", *NOT_PAGES)
# Links the crawl does not follow: logging out would end the crawl's session.
NOT_FOLLOWED = ("/logout/",)
# At most this many URLs per route (filters, cursors and per-row links repeat one route).
PER_ROUTE = 2


@dataclass
class Form:
    """A form (or an element with hx-post) as the browser would submit it."""

    page: str
    # The URL that shows the page when opened (a redirect may lead from it to `page`, as a password-reset link does).
    entry: str
    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    multipart: bool = False
    # The CSRF token the page rendered into the form (empty when it has none: htmx sends it as a header).
    token: str = ""

    @property
    def route(self) -> str:
        return route_of(self.action)

    def data(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.fields:
            if name != "csrfmiddlewaretoken":
                out.setdefault(name, []).append(value)
        return out


class _PageParser(HTMLParser):
    """Collect the forms of a page and every URL-looking attribute value (links, hx-get, data-*-url)."""

    def __init__(self, page: str, entry: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.entry = entry
        self.forms: list[Form] = []
        self.urls: list[str] = []
        self._form: Form | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value and value.startswith("/") and not value.startswith("//") and name not in ("action", "hx-post"):
                self.urls.append(value)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self._form = Form(
                page=self.page,
                entry=self.entry,
                method=method,
                action=attrs.get("action") or self.page,
                multipart=attrs.get("enctype") == "multipart/form-data",
            )
            self.forms.append(self._form)
            if attrs.get("hx-post"):
                self._form.method, self._form.action = "post", attrs["hx-post"]
        elif attrs.get("hx-post"):
            # An element that posts on its own (no form around it): htmx sends its hx-vals and the CSRF header.
            self.forms.append(Form(page=self.page, entry=self.entry, method="post", action=attrs["hx-post"]))
        if self._form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if name == "csrfmiddlewaretoken":
                self._form.token = attrs.get("value", "")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            self._form.fields.append((name, attrs.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._select[1].append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._select is not None and self._select[1] and not self._select[1][-1][0]:
            value, selected = self._select[1][-1]
            self._select[1][-1] = (value or data.strip(), selected)
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = [value for value, selected in options if selected] or [value for value, _ in options[:1]]
            if self._form is not None and chosen:
                self._form.fields.append((name, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form.fields.append((self._textarea[0], self._textarea[1]))
            self._textarea = None


def route_of(path: str) -> str:
    """The URL pattern a path resolves to ("" when none does)."""
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return ""


def _skipped(path: str) -> bool:
    return route_of(path).startswith(SKIPPED) or urlsplit(path).path.startswith(("/static/", "/api/"))


@dataclass
class Crawl:
    """What a crawl fetched: every URL with its response, and every form of every HTML page."""

    responses: dict[str, object] = field(default_factory=dict)
    forms: list[Form] = field(default_factory=list)

    def routes(self) -> set[str]:
        return {route_of(url) for url in self.responses}


def crawl(client: Client, seeds: list[str]) -> Crawl:
    """Fetch `seeds` and every same-site URL their pages lead to (links, redirects, GET forms, hx-get, data URLs)."""
    result = Crawl()
    # (URL, the URL a browser opens to get there: itself, or the first of the redirects that led to it)
    queue = deque((seed, seed) for seed in seeds)
    per_route: dict[str, int] = {}
    while queue:
        url, entry = queue.popleft()
        path = urlsplit(url).path
        if url in result.responses or not path.startswith("/") or _skipped(url) or path in NOT_FOLLOWED:
            continue
        route = route_of(url)
        if not route and path != "/":
            continue
        if per_route.get(route, 0) >= PER_ROUTE:
            continue
        per_route[route] = per_route.get(route, 0) + 1
        response = client.get(url)
        result.responses[url] = response
        if response.status_code in (301, 302, 303):
            queue.append((response["Location"], entry))
            continue
        assert response.status_code == 200, f"{url}: {response.status_code}"
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        parser = _PageParser(path, entry)
        parser.feed(response.content.decode())
        for form in parser.forms:
            if form.method == "get":
                fields = [(name, value) for name, value in form.fields if value]
                target = form.action + ("?" + urlencode(fields) if fields else "")
                queue.append((target, target))
            else:
                result.forms.append(form)
        queue.extend((found.split("#")[0], found.split("#")[0]) for found in parser.urls)
    return result


def distinct(forms: list[Form]) -> list[Form]:
    """One form per route and field names: a table repeats one form per row, its URL naming the row."""
    seen, out = set(), []
    for form in forms:
        key = (form.route, tuple(sorted({name for name, _ in form.fields})))
        if key not in seen:
            seen.add(key)
            out.append(form)
    return out


def page_routes_of(method: str) -> set[str]:
    """The routes of the customer portal (every page but the SKIPPED ones) that answer `method`."""
    return {route for route, methods in page_routes().items() if method in methods and not route.startswith(SKIPPED)}


@dataclass
class Site:
    """The world the crawls walk: team acme with one of everything, and the people who look at it."""

    users: dict
    seeds: dict[str, list[str]]
    # Values no page may show: the config secret and the webhook's signing secret.
    secrets: list[str]

    def client(self, who: str, **kwargs) -> Client:
        client = Client(**kwargs)
        if who != "anonymous":
            client.force_login(self.users[who])
        return client


@pytest.fixture
def site(db, settings) -> Site:
    """Team acme (owner olivia, admin ada, developer dana, viewer victor) and team globex (olivia's too).

    App web holds a secret (CANARY), a plain var, two releases (one to roll back to), a finished and a pending
    build, a rollout, a domain, a drain that dropped lines, log lines and a running container on the in-memory
    engine; the team has a webhook with a failed delivery; olivia has a token; an invitation and a password-reset
    link are out, for the pages only an email leads to.
    """
    settings.BERTH_ENGINE = "fake"
    engine = FakeEngine()
    previous = fake_engine_module.install(engine)
    users = get_user_model().objects
    owner = users.create_user(username="olivia", password=PASSWORD, email="olivia@example.com")
    people = {"owner": owner}
    for role, name in ((Role.ADMIN, "ada"), (Role.DEVELOPER, "dana"), (Role.VIEWER, "victor")):
        people[role.value] = users.create_user(username=name, password=PASSWORD)
    tenant = tenant_create(actor=owner, slug="acme", name="Acme Inc")
    tenant_create(actor=owner, slug="globex", name="Globex")
    for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER):
        member_add(actor=owner, tenant=tenant, user=people[role.value], role=role)
    app = app_create(tenant=tenant, slug="web", actor=owner, description="The shop front")
    Release.objects.filter(app=app, version=1).update(status=ReleaseStatus.SUCCEEDED)
    config_update(app=app, values={"API_KEY": {"value": CANARY, "secret": True}, "GREETING": "hi"}, actor=owner)
    build = BuildFactory(app=app, number=1, log="Step 1/2 : FROM scratch\n", size_bytes=1_000, layers=2)
    BuildFactory(app=app, number=2, status=BuildStatus.PENDING, image="")
    release = Release.objects.get(app=app, version=2)
    Release.objects.filter(pk=release.pk).update(build=build, status=ReleaseStatus.SUCCEEDED)
    Deployment.objects.create(app=app, release=release, status=DeploymentStatus.SUCCEEDED, progress=100)
    domain_add(app=app, hostname="shop.example.com", actor=owner)
    host = DockerHostFactory(name="local")
    engine_id = "c0ffee" * 10 + "abcd"
    host.containers.create(
        app=app,
        release=release,
        process_type="web",
        index=1,
        engine_id=engine_id,
        name="berth-acme-web-v2-web-1",
        state=ContainerState.RUNNING,
    )
    engine.host("local").containers[engine_id] = FakeContainer(
        engine_id=engine_id,
        name="berth-acme-web-v2-web-1",
        image="registry.test/acme/web:2",
        labels={TENANT_LABEL: "acme", APP_LABEL: "web", RELEASE_LABEL: "2", PROCESS_LABEL: "web", INDEX_LABEL: "1"},
        env={"API_KEY": CANARY},
        command=None,
        memory_mb=64,
        state="running",
        exit_code=0,
        oom_killed=False,
        output="",
        created=0.0,
    )
    DatabaseSink().write(
        [
            LogRecord(
                tenant_id=tenant.pk,
                tenant="acme",
                app_id=app.pk,
                app="web",
                release=2,
                process="web",
                index=1,
                container=engine_id[:12],
                stream="stdout",
                timestamp_ns=1_795_834_801_000_000_000 + n,
                rank=n,
                line=f"GET /products/{n} 200",
            )
            for n in range(1, 6)
        ]
    )
    token_create(user=owner, scopes=["read"], name="ci", tenant=tenant)
    # Public address literals: saving them resolves nothing and sends nothing.
    drain = drain_add(app=app, url="syslog+tls://1.1.1.1:6514", actor=owner)
    Drain.objects.filter(pk=drain.pk).update(delivered=120, dropped=7)
    webhook, webhook_secret = webhook_create(
        tenant=tenant, url="https://1.1.1.1/hooks", events=["release.succeeded"], actor=owner
    )
    Delivery.objects.create(
        tenant=tenant, webhook=webhook, event="release.succeeded", payload={}, status="failed", response_code=500
    )
    invitation = invitation_send(
        actor=owner, tenant=tenant, email="nina@example.com", role=Role.DEVELOPER, link_for="/invitations/{}/".format
    )
    # For a member no crawl logs in: a login changes last_login, which ends the link's validity.
    viewer = people["viewer"]
    uid, token = urlsafe_base64_encode(force_bytes(viewer.pk)), default_token_generator.make_token(viewer)
    seeds = {
        "anonymous": [
            *("/login/", "/password-reset/", "/password-reset/sent/", "/password-reset/done/"),
            invitation,
            f"/password-reset/{uid}/{token}/",
        ],
        "owner": ["/", invitation],
        "admin": ["/"],
    }
    yield Site(users=people, seeds=seeds, secrets=[CANARY, webhook_secret])
    fake_engine_module.install(previous)
    engine.close()
