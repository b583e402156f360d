"""The authorization matrix: who may call which API route, declared as a table and checked against the server.

A world holds two tenants and one caller of each kind (see CALLERS). A Row names a method, a URL template and the
status every caller must get. run_row() calls the route once per caller, each call inside a savepoint that is rolled
back afterwards, so every caller meets the same fresh world; a call expected to fail must also change nothing in the
database (the rows of every table of tenants, deployments and auth are compared before and after, ignoring
last-use timestamps).

Writing rows (tenants/tests/authz_matrix.py, deployments/tests/authz_matrix.py):

    Row("GET", "/api/v1/tenants/{tenant}/apps/", tenant_rule("read")),
    Row("POST", "/api/v1/tenants/{tenant}/apps/", tenant_rule("write", ok=201), body={"slug": "web"}),
    Row("DELETE", "/api/v1/tenants/{tenant}/apps/{app}/", tenant_rule("admin", ok=204), setup=make_app),
    Row("GET", "/api/v1/hosts/", staff_rule()),

URL templates and string values of `body` are filled with World.params(caller): `{tenant}` (the tenant every row
targets), `{other_tenant}`, `{me}` (the caller's username), `{owner}` (the tenant owner's username), `{token_id}`
(the id of the token the caller authenticates with, 0 for sessions), plus whatever `setup(world, caller)` returns;
setup runs inside the savepoint, before the call, so it can create the objects the URL names. `body` may also be
a callable `body(world, params)`, called once per caller: use one for uploads, since a file is read once;
`format="multipart"` sends a multipart form instead of JSON. `then(world, params, response)` runs after each
successful call (still inside the savepoint) to assert what it did.

`expect` maps every caller name to a status; the rule helpers build it from the minimal scope (and role) and take
per-caller overrides, e.g. `tenant_rule("admin", ok=204, min_role="owner")` for "owners only", or
`tenant_rule("read", ok=204, owner=409)` where the owner meets a conflict. A caller missing from `expect` is an
error, so adding a caller forces every row to say what it gets.

Pages (the customer UI and the staff console) have rows too, run with `run_row(row, world, page=True)`: there an
expected value may also be LOGIN (a redirect to a login page: anonymous callers, and tokens, which open no page) or
ADMITTED (past Django admin's own gate: whatever the admin then answers, but neither a login page nor an error of
the server). A refused page (LOGIN or a status >= 400) must change nothing either; it owes no JSON error shape.
The page rules are page_rule, console_rule, admin_rule, session_rule and public_rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tenants.models import ROLE_RANK, Role, Scope, Tenant
from tenants.services import member_add, tenant_create, token_create
from tenants.tests.factories import ApiTokenFactory, UserFactory

CALLERS = (
    "anonymous",  # no credentials
    "viewer",  # session of each role in the tenant
    "developer",
    "admin",
    "owner",
    "other_owner",  # session of the owner of another tenant
    "staff",  # session of platform staff, member of no tenant
    "staff_token_read",  # staff's read-only token
    "token_read",  # the owner's read-only token
    "token_tenant",  # the owner's token with every scope, restricted to this tenant
    "token_other_tenant",  # the owner's token with every scope, restricted to the other tenant
    "token_expired",  # the owner's token with every scope, expired
)
_ROLE_SCOPES = {
    Role.VIEWER: {Scope.READ},
    Role.DEVELOPER: {Scope.READ, Scope.WRITE, Scope.DEPLOY},
    Role.ADMIN: set(Scope.values),
    Role.OWNER: set(Scope.values),
}
# Columns that change on a request without the request changing anything.
_VOLATILE = {"tenants.apitoken": {"last_used_at"}, "auth.user": {"last_login"}}
_SNAPSHOT_APPS = ("auth", "tenants", "deployments", "django_tasks_db")


@dataclass
class Caller:
    name: str
    user: Any = None
    token: str | None = None  # the plaintext the caller sends as `Authorization: Bearer`
    token_id: int = 0


@dataclass
class World:
    """Two tenants, `tenant` (acme) with one member per role and `other_tenant` (globex) with its owner.

    The owner of `tenant` is also an admin of `other_tenant`, so their token restricted to `other_tenant` is a
    legitimate one whose restriction alone keeps it out of `tenant`.
    """

    tenant: Tenant
    other_tenant: Tenant
    users: dict[str, Any]
    callers: dict[str, Caller]

    def params(self, caller: Caller) -> dict[str, Any]:
        return {
            "tenant": self.tenant.slug,
            "other_tenant": self.other_tenant.slug,
            "me": caller.user.get_username() if caller.user else "nobody",
            "owner": self.users["owner"].get_username(),
            "token_id": caller.token_id,
        }


def build_world() -> World:
    """Create the world through the services, as the API would."""
    owner = UserFactory(username="acme-owner")
    tenant = tenant_create(actor=owner, slug="acme", name="Acme")
    users = {"owner": owner}
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN):
        users[role.value] = UserFactory(username=f"acme-{role.value}")
        member_add(actor=owner, tenant=tenant, user=users[role.value], role=role)
    users["other_owner"] = UserFactory(username="globex-owner")
    other_tenant = tenant_create(actor=users["other_owner"], slug="globex", name="Globex")
    member_add(actor=users["other_owner"], tenant=other_tenant, user=owner, role=Role.ADMIN)
    users["staff"] = UserFactory(username="staff", is_staff=True)

    callers = {"anonymous": Caller("anonymous")}
    for name in ("viewer", "developer", "admin", "owner", "other_owner", "staff"):
        callers[name] = Caller(name, users[name])

    def with_token(name: str, user, **kwargs) -> Caller:
        token, plaintext = token_create(user=user, name=name, **kwargs)
        return Caller(name, user, plaintext, token.pk)

    callers["staff_token_read"] = with_token("staff_token_read", users["staff"], scopes=[Scope.READ])
    callers["token_read"] = with_token("token_read", owner, scopes=[Scope.READ])
    callers["token_tenant"] = with_token("token_tenant", owner, scopes=Scope.values, tenant=tenant)
    callers["token_other_tenant"] = with_token("token_other_tenant", owner, scopes=Scope.values, tenant=other_tenant)
    expired = ApiTokenFactory(
        user=owner, name="token_expired", scopes=Scope.values, expires_at=timezone.now() - timedelta(minutes=1)
    )
    callers["token_expired"] = Caller("token_expired", owner, expired.plaintext, expired.pk)
    assert tuple(callers) == CALLERS
    return World(tenant=tenant, other_tenant=other_tenant, users=users, callers=callers)


@pytest.fixture
def authz_world(db) -> World:
    """A fresh World (import this fixture where you run rows)."""
    return build_world()


# Rules: the expected status of every caller, from the minimal scope a route needs.


def tenant_rule(scope: str, ok: int = 200, *, min_role: str | None = None, **overrides: int) -> dict[str, int]:
    """A route inside {tenant} that needs `scope` (and `min_role`, when given): members holding it get `ok`, other
    members 403, strangers 404.
    """
    scope = Scope(scope)
    rank = ROLE_RANK[Role(min_role)] if min_role else 0

    def member(role: Role) -> int:
        return ok if scope in _ROLE_SCOPES[role] and ROLE_RANK[role] >= rank else 403

    # Staff read every tenant and do nothing else in it; they hold no role there.
    staff = ok if scope == Scope.READ and not rank else 403
    expect = {
        "anonymous": 401,
        "viewer": member(Role.VIEWER),
        "developer": member(Role.DEVELOPER),
        "admin": member(Role.ADMIN),
        "owner": member(Role.OWNER),
        "other_owner": 404,
        "staff": staff,
        "staff_token_read": staff,
        # The owner's tokens: the role allows everything, the token's scopes narrow it.
        "token_read": ok if scope == Scope.READ else 403,
        "token_tenant": ok,
        "token_other_tenant": 404,
        "token_expired": 401,
    }
    return _override(expect, overrides)


def staff_rule(scope: str = Scope.READ, ok: int = 200, **overrides: int) -> dict[str, int]:
    """A staff-only route (the hosts console): staff sessions get `ok`, a staff token needs `scope`, others 403."""
    scope = Scope(scope)
    expect = {name: 403 for name in CALLERS}
    expect.update(
        anonymous=401,
        token_expired=401,
        staff=ok,
        staff_token_read=ok if scope == Scope.READ else 403,
    )
    return _override(expect, overrides)


def user_rule(ok: int = 200, **overrides: int) -> dict[str, int]:
    """A route outside tenants that every authenticated caller may use (on their own data)."""
    expect = {name: ok for name in CALLERS}
    expect.update(anonymous=401, token_expired=401)
    return _override(expect, overrides)


# Outcomes of a page besides its status (see the module's docstring).
LOGIN = "login"
ADMITTED = "admitted"
_TOKEN_CALLERS = ("staff_token_read", "token_read", "token_tenant", "token_other_tenant", "token_expired")


def page_rule(scope: str, ok: int = 200, *, min_role: str | None = None, **overrides) -> dict:
    """A page inside {tenant} that needs `scope` (and `min_role`): as tenant_rule, but a member refused gets 404
    (a form the page never showed them), and anonymous callers and tokens go to the login page.
    """
    expect = {
        name: 404 if status == 403 else status for name, status in tenant_rule(scope, ok, min_role=min_role).items()
    }
    expect.update({name: LOGIN for name in ("anonymous", *_TOKEN_CALLERS)})
    return _override(expect, overrides)


def session_rule(ok: int = 200, **overrides) -> dict:
    """A page outside tenants for every signed-in user (on their own data); anyone else goes to the login page."""
    expect = {name: ok for name in CALLERS}
    expect.update({name: LOGIN for name in ("anonymous", *_TOKEN_CALLERS)})
    return _override(expect, overrides)


def console_rule(ok: int | str = 200, **overrides) -> dict:
    """A staff console page: staff sessions get `ok`, other users 404 (no such page for them); anonymous callers and
    tokens (the console takes no token, a staff one included) the login page.
    """
    expect = {name: 404 for name in CALLERS}
    expect.update({name: LOGIN for name in ("anonymous", *_TOKEN_CALLERS)})
    expect["staff"] = ok
    return _override(expect, overrides)


def admin_rule(**overrides) -> dict:
    """A Django admin page: superusers only, and no caller of the world is one, so everyone signs in first."""
    return _override({name: LOGIN for name in CALLERS}, overrides)


def public_rule(ok: int = 200, **overrides) -> dict:
    """A page anyone may open, signed in or not."""
    return _override({name: ok for name in CALLERS}, overrides)


def _override(expect: dict, overrides: Mapping) -> dict:
    unknown = set(overrides) - set(CALLERS)
    if unknown:
        raise ValueError(f"unknown callers: {sorted(unknown)}")
    return {**expect, **overrides}


@dataclass(frozen=True)
class Row:
    """One route and method, and what every caller gets."""

    method: str
    url: str
    expect: Mapping[str, int]
    body: dict | list | Callable[[World, dict], Any] | None = None
    setup: Callable[[World, Caller], dict[str, Any] | None] | None = None
    format: str = "json"
    name: str = ""
    # A hook for successful calls: then(world, params, response) asserts what the call did.
    then: Callable[[World, dict, Any], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        missing = set(CALLERS) - set(self.expect)
        unknown = set(self.expect) - set(CALLERS)
        if missing or unknown:
            raise ValueError(f"{self.id}: expect must name every caller; missing {missing}, unknown {unknown}")
        if self.format not in ("json", "multipart"):
            raise ValueError(f"{self.id}: format is json or multipart")

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}" + (f" [{self.name}]" if self.name else "")


class _Rollback(Exception):
    pass


@contextmanager
def _rolled_back() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def _fill(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**params)
    if isinstance(value, dict):
        return {key: _fill(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, params) for item in value]
    return value


def database_snapshot() -> dict[str, list[tuple]]:
    """Every row of the tables a request could change, without the volatile columns."""
    snapshot = {}
    installed = {config.label for config in apps.get_app_configs()}
    for label in _SNAPSHOT_APPS:
        if label not in installed:
            continue
        for model in apps.get_app_config(label).get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            key = model._meta.label_lower
            columns = [f.attname for f in model._meta.concrete_fields if f.attname not in _VOLATILE.get(key, ())]
            snapshot[key] = list(model._default_manager.order_by("pk").values_list(*columns))
    return snapshot


def _snapshot_diff(before: dict, after: dict) -> list[str]:
    changed = []
    for key in before:
        if before[key] != after[key]:
            removed = [row for row in before[key] if row not in after[key]]
            added = [row for row in after[key] if row not in before[key]]
            changed.append(f"{key}: removed {removed[:3]}, added {added[:3]}")
    return changed


def call(caller: Caller, method: str, url: str, body: Any = None, format: str = "json"):
    """Make one request as `caller` with the Django test client."""
    client = Client()
    headers = {}
    if caller.token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {caller.token}"
    elif caller.user is not None:
        client.force_login(caller.user)
    if format in ("multipart", "form") and method == "POST":
        # A page's form posts as a browser does (multipart is what the test client sends for a dict).
        return client.post(url, data=body or {}, **headers)
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data=data, content_type="application/json", **headers)


def _error_shape_problem(response) -> str | None:
    try:
        payload = json.loads(response.content or b"null")
    except ValueError:
        return "body is not JSON"
    error = payload.get("error") if isinstance(payload, dict) else None
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("code"), str)
        or not isinstance(error.get("message"), str)
        or not isinstance(error.get("fields"), dict)
    ):
        return f"not the error shape: {payload!r:.200}"
    return None


_LOGIN_PAGES = ("/login/", "/console/admin/login/")


def page_outcome(response) -> int | str:
    """LOGIN for a redirect to a login page, else the status."""
    if response.status_code == 302 and response["Location"].split("?")[0] in _LOGIN_PAGES:
        return LOGIN
    return response.status_code


def _matches(expected: int | str, outcome: int | str) -> bool:
    if expected == ADMITTED:
        return outcome != LOGIN and outcome < 500
    return outcome == expected


def _refusal(expected: int | str) -> bool:
    return expected == LOGIN or (isinstance(expected, int) and expected >= 400)


def run_row(row: Row, world: World, *, page: bool = False) -> list[str]:
    """Call the row's route as every caller; return the mismatches (empty when the server matches the table).

    `page`: the row is a page's (see the module's docstring), not an API route's.
    """
    mismatches = []
    for caller in world.callers.values():
        expected = row.expect[caller.name]
        with _rolled_back():
            params = world.params(caller)
            if row.setup is not None:
                params.update(row.setup(world, caller) or {})
            url = row.url.format(**params)
            body = row.body(world, params) if callable(row.body) else _fill(row.body, params)
            before = database_snapshot() if _refusal(expected) else None
            response = call(caller, row.method, url, body, "form" if page else row.format)
            outcome = page_outcome(response) if page else response.status_code
            prefix = f"{row.id} as {caller.name}: "
            if not _matches(expected, outcome):
                mismatches.append(f"{prefix}expected {expected}, got {outcome} {response.content[:200]!r}")
                continue
            if _refusal(expected):
                problem = None if page else _error_shape_problem(response)
                if problem:
                    mismatches.append(prefix + problem)
                changed = _snapshot_diff(before, database_snapshot())
                if changed:
                    mismatches.append(f"{prefix}a refused call changed the database: {changed}")
            elif row.then is not None:
                row.then(world, params, response)
    return mismatches


# Coverage: every route under /api/v1/ needs a row for each method it answers.


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        # Joined as ResolverMatch.route joins them (a regex's leading ^ dropped), so a row's route compares equal.
        route = prefix + str(pattern.pattern).removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions if method not in ("options", "head")}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {
            method.upper()
            for method in view_class.http_method_names
            if method not in ("options", "head", "trace") and hasattr(view_class, method)
        }
    allowed = _required_methods(callback)
    return {method for method in allowed if method != "HEAD"} if allowed else {"GET"}


def _required_methods(callback) -> set[str]:
    """The methods of a function view decorated with require_http_methods (require_GET, require_POST...)."""
    while callback is not None:
        code = getattr(callback, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = callback.__closure__[code.co_freevars.index("request_method_list")]
            return {method.upper() for method in cell.cell_contents}
        callback = getattr(callback, "__wrapped__", None)
    return set()


def api_routes(prefix: str = "api/v1/") -> dict[str, set[str]]:
    """Map every URL pattern under `prefix` to the methods it answers (besides OPTIONS and HEAD)."""
    routes: dict[str, set[str]] = {}
    for route, callback in _walk(get_resolver().url_patterns):
        # DRF routers repeat each route with a `.json` suffix; the view and its permissions are the same.
        if route.startswith(prefix) and "(?P<format>" not in route:
            routes.setdefault(route, set()).update(_methods(callback))
    return routes


# Routes that are no page: the API (its own matrix), its schema and docs, and the public health probes
# (portal/tests/test_health.py), and git's smart HTTP (Basic credentials, deployments/tests/git/test_http.py).
NOT_PAGES = ("api/", "healthz", "readyz", "git/")


def page_routes() -> dict[str, set[str]]:
    """Map every URL pattern of a page (every route outside NOT_PAGES) to the methods it answers."""
    routes: dict[str, set[str]] = {}
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith(NOT_PAGES):
            routes.setdefault(route, set()).update(_methods(callback))
    return routes


class _AnyValue(dict):
    def __missing__(self, key: str) -> str:
        return "1"


def row_route(row: Row) -> str:
    """The URL pattern a row's URL resolves to."""
    from django.urls import resolve

    return resolve(row.url.format_map(_AnyValue()).split("?")[0]).route


def uncovered_routes(rows: list[Row], prefix: str = "api/v1/", *, pages: bool = False) -> list[str]:
    """The `METHOD route` pairs under `prefix` (or of every page, with `pages`) that no row calls."""
    covered = {(row_route(row), row.method.upper()) for row in rows}
    routes = page_routes() if pages else api_routes(prefix)
    return sorted(
        f"{method} /{route}"
        for route, methods in routes.items()
        for method in methods
        if (route, method) not in covered
    )
