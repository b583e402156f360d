"""The tenants API beyond the matrix: mass assignment, bad input, tokens over time, pagination and the audit trail."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from deployments.models import App
from tenants import services
from tenants.models import ApiToken, AuditEvent, Membership, Role, Tenant
from tenants.tests.factories import ApiTokenFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="owner")


@pytest.fixture
def acme(owner):
    return services.tenant_create(actor=owner, slug="acme", name="Acme")


@pytest.fixture
def globex():
    return services.tenant_create(actor=UserFactory(username="globex-owner"), slug="globex", name="Globex")


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _bearer(plaintext: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def _send(client, method, url, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(method, url, data=data, content_type="application/json")


def _assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    if field is not None:
        assert field in error["fields"]


# Mass assignment: fields a caller may not set are ignored or refused, never stored.


def test_creating_a_tenant_ignores_quotas_ids_and_roles(owner):
    response = _send(
        _session(owner),
        "POST",
        "/api/v1/tenants/",
        {"slug": "newco", "name": "New", "max_apps": 9999, "id": 777, "role": "viewer", "created_at": "2000-01-01"},
    )

    assert response.status_code == 201
    tenant = Tenant.objects.get(slug="newco")
    assert (tenant.max_apps, tenant.created_at.year) == (20, timezone.now().year)
    assert tenant.pk != 777
    assert list(Membership.objects.filter(tenant=tenant).values_list("user", "role")) == [(owner.pk, Role.OWNER)]


def test_an_owner_cannot_raise_quotas_or_change_the_slug(acme, owner):
    before = Tenant.objects.filter(pk=acme.pk).values().get()

    refused = _send(_session(owner), "PATCH", "/api/v1/tenants/acme/", {"name": "Acme 2", "max_apps": 9999})
    ignored = _send(_session(owner), "PATCH", "/api/v1/tenants/acme/", {"slug": "hijack", "created_at": "2000-01-01"})

    _assert_error(refused, 403, "permission_denied")
    assert ignored.status_code == 200
    assert Tenant.objects.filter(pk=acme.pk).values().get() == before


def test_staff_set_the_plan_through_the_api_and_an_owner_cannot(acme, owner):
    staff = UserFactory(username="staffer", is_staff=True)

    refused = _send(_session(owner), "PATCH", "/api/v1/tenants/acme/", {"plan": "enterprise"})
    accepted = _send(_session(staff), "PATCH", "/api/v1/tenants/acme/", {"plan": "team"})

    _assert_error(refused, 403, "permission_denied")
    assert accepted.status_code == 200
    assert accepted.json()["plan"] == "team"
    assert Tenant.objects.get(pk=acme.pk).plan == "team"


def test_adding_a_member_sets_only_username_and_role(acme, globex, owner):
    newcomer = UserFactory(username="newcomer")
    body = {
        "username": "newcomer",
        "role": "viewer",
        "tenant": "globex",
        "user": owner.pk,
        "is_staff": True,
        "is_superuser": True,
        "scopes": ["admin"],
    }

    response = _send(_session(owner), "POST", "/api/v1/tenants/acme/members/", body)

    assert response.status_code == 201
    assert response.json()["username"] == "newcomer"
    assert list(Membership.objects.filter(user=newcomer).values_list("tenant__slug", "role")) == [("acme", "viewer")]
    newcomer.refresh_from_db()
    assert (newcomer.is_staff, newcomer.is_superuser) == (False, False)


def test_an_admin_cannot_promote_themselves(acme):
    admin = MembershipFactory(tenant=acme, user__username="admin", role=Role.ADMIN)

    response = _send(_session(admin.user), "PATCH", "/api/v1/tenants/acme/members/admin/", {"role": "owner"})

    _assert_error(response, 403, "forbidden")
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_a_token_is_the_callers_own_whatever_the_body_says(acme, globex, owner):
    other = UserFactory(username="other")
    body = {
        "scopes": ["read"],
        "user": other.pk,
        "digest": "0" * 64,
        "prefix": "chosen",
        "last_used_at": "2000-01-01T00:00:00Z",
        "revoked_at": "2000-01-01T00:00:00Z",
        "is_staff": True,
    }

    response = _send(_session(owner), "POST", "/api/v1/tokens/", body)

    assert response.status_code == 201
    token = ApiToken.objects.get()
    assert (token.user, token.tenant, token.revoked_at, token.last_used_at) == (owner, None, None, None)
    assert token.digest != "0" * 64 and token.prefix != "chosen"
    assert response.json()["token"].startswith("brt_" + token.prefix)


@pytest.mark.parametrize(("role", "scopes"), [(Role.VIEWER, ["write"]), (Role.DEVELOPER, ["read", "admin"])])
def test_scopes_wider_than_the_role_persist_nothing(acme, role, scopes):
    member = MembershipFactory(tenant=acme, user__username="member", role=role)

    response = _send(_session(member.user), "POST", "/api/v1/tokens/", {"scopes": scopes, "tenant": "acme"})

    _assert_error(response, 403, "scope_too_wide", "scopes")
    assert ApiToken.objects.count() == 0
    assert not AuditEvent.objects.filter(action="token.create").exists()


def test_a_token_lists_and_creates_no_wider_tokens(acme, owner):
    _, narrow = services.token_create(user=owner, scopes=["read", "admin"])

    response = _send(_bearer(narrow), "POST", "/api/v1/tokens/", {"scopes": ["read", "write"]})

    _assert_error(response, 403, "scope_too_wide")
    assert ApiToken.objects.count() == 1


# Bad input: the documented error shape with a 4xx, never a 500.

BAD_INPUT = [
    ("unknown tenant", "GET", "/api/v1/tenants/nope/", None, 404, "not_found", None),
    ("unknown tenant members", "GET", "/api/v1/tenants/nope/members/", None, 404, "not_found", None),
    ("non-DNS slug in URL", "GET", "/api/v1/tenants/Acme_Corp/", None, 404, "not_found", None),
    ("NUL in URL slug", "GET", "/api/v1/tenants/ac%00me/", None, 404, "not_found", None),
    ("NUL in URL username", "PATCH", "/api/v1/tenants/acme/members/ow%00ner/", {"role": "viewer"}, 404, None, None),
    ("unknown member", "DELETE", "/api/v1/tenants/acme/members/nobody/", None, 404, "not_found", None),
    ("malformed JSON", "POST", "/api/v1/tenants/", '{"slug": "x",', 400, "parse_error", None),
    ("JSON list", "POST", "/api/v1/tenants/", "[1, 2]", 400, "invalid", None),
    ("JSON string", "PATCH", "/api/v1/tenants/acme/", '"name"', 400, "invalid", None),
    ("over-long name", "POST", "/api/v1/tenants/", {"slug": "newco", "name": "x" * 101}, 400, "invalid", "name"),
    ("over-long slug", "POST", "/api/v1/tenants/", {"slug": "a" * 41}, 400, "invalid", "slug"),
    ("uppercase slug", "POST", "/api/v1/tenants/", {"slug": "NewCo"}, 400, "invalid", "slug"),
    ("underscore slug", "POST", "/api/v1/tenants/", {"slug": "new_co"}, 400, "invalid", "slug"),
    ("leading hyphen", "POST", "/api/v1/tenants/", {"slug": "-newco"}, 400, "invalid", "slug"),
    ("unicode slug", "POST", "/api/v1/tenants/", {"slug": "café"}, 400, "invalid", "slug"),
    ("empty slug", "POST", "/api/v1/tenants/", {"slug": ""}, 400, "invalid", "slug"),
    ("missing slug", "POST", "/api/v1/tenants/", {}, 400, "invalid", "slug"),
    ("NUL in name", "POST", "/api/v1/tenants/", {"slug": "newco", "name": "a\x00b"}, 400, "invalid", "name"),
    ("slug taken", "POST", "/api/v1/tenants/", {"slug": "acme"}, 409, "slug_taken", "slug"),
    ("over-long rename", "PATCH", "/api/v1/tenants/acme/", {"name": "x" * 101}, 400, "invalid", "name"),
    ("unknown role", "POST", "/api/v1/tenants/acme/members/", {"username": "owner", "role": "root"}, 400, None, "role"),
    ("unknown user", "POST", "/api/v1/tenants/acme/members/", {"username": "ghost"}, 400, "invalid", "username"),
    ("NUL in username", "POST", "/api/v1/tenants/acme/members/", {"username": "gh\x00st"}, 400, "invalid", None),
    ("already member", "POST", "/api/v1/tenants/acme/members/", {"username": "owner"}, 409, "already_member", None),
    ("scopes not a list", "POST", "/api/v1/tokens/", {"scopes": "read"}, 400, "invalid", "scopes"),
    ("unknown scope", "POST", "/api/v1/tokens/", {"scopes": ["root"]}, 400, "invalid", "scopes"),
    ("no scope", "POST", "/api/v1/tokens/", {"scopes": []}, 400, "invalid", "scopes"),
    (
        "past expiry",
        "POST",
        "/api/v1/tokens/",
        {"scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
        400,
        None,
        None,
    ),
    ("bad expiry", "POST", "/api/v1/tokens/", {"scopes": ["read"], "expires_at": "soon"}, 400, "invalid", "expires_at"),
    ("token for unknown tenant", "POST", "/api/v1/tokens/", {"scopes": ["read"], "tenant": "nope"}, 404, None, None),
    ("token id not a number", "DELETE", "/api/v1/tokens/abc/", None, 404, "not_found", None),
    ("token id too large", "DELETE", "/api/v1/tokens/99999999999999999999999/", None, 404, "not_found", None),
    ("bad cursor", "GET", "/api/v1/tenants/?cursor=garbage", None, 404, None, None),
    ("method not allowed", "PUT", "/api/v1/tenants/acme/", {"name": "x"}, 405, "method_not_allowed", None),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "code", "field"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_gets_the_error_shape(acme, owner, method, url, body, status, code, field):
    before = (Tenant.objects.count(), Membership.objects.count(), ApiToken.objects.count())

    response = _send(_session(owner), method, url, body)

    _assert_error(response, status, code, field)
    assert (Tenant.objects.count(), Membership.objects.count(), ApiToken.objects.count()) == before


def test_an_unsupported_content_type_is_refused(owner):
    response = Client().generic("POST", "/api/v1/tenants/", data="slug=x", content_type="text/plain")
    _assert_error(response, 401)

    response = _session(owner).generic("POST", "/api/v1/tenants/", data="slug=x", content_type="text/plain")
    _assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer brt_short", "Bearer brt_" + "x" * 43, "Bearer " + "é" * 40, "Basic Zm9vOmJhcg=="],
)
def test_bad_credentials_get_401_or_are_anonymous(acme, header):
    response = Client(HTTP_AUTHORIZATION=header).get("/api/v1/tenants/acme/")

    _assert_error(response, 401)


def test_a_tenant_with_apps_cannot_be_deleted(acme, owner):
    App.objects.create(tenant=acme, slug="web")

    response = _session(owner).delete("/api/v1/tenants/acme/")

    _assert_error(response, 409, "tenant_has_apps")
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_deleting_a_tenant_keeps_its_audit_trail(acme, owner):
    response = _session(owner).delete("/api/v1/tenants/acme/")

    assert response.status_code == 204
    assert Tenant.objects.count() == 0
    assert list(AuditEvent.objects.order_by("id").values_list("action", "tenant_slug", "tenant_id")) == [
        ("tenant.create", "acme", None),
        ("tenant.delete", "acme", None),
    ]


# Tokens over time: expiry, last use, revocation on the next request.


def test_an_expired_token_gets_401(acme, owner):
    token = ApiTokenFactory(user=owner, scopes=["read"], expires_at=timezone.now() - timedelta(seconds=1))

    response = _bearer(token.plaintext).get("/api/v1/tenants/acme/")

    _assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_token_records_its_last_use(acme, owner):
    token, plaintext = services.token_create(user=owner, scopes=["read"])

    response = _bearer(plaintext).get("/api/v1/tenants/acme/")

    token.refresh_from_db()
    assert response.status_code == 200
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)


def test_revocation_takes_effect_on_the_next_request(acme, owner):
    token, plaintext = services.token_create(user=owner, scopes=["read", "admin"])
    client = _bearer(plaintext)
    assert client.get("/api/v1/tenants/acme/").status_code == 200

    revoked = client.delete(f"/api/v1/tokens/{token.pk}/")
    after = client.get("/api/v1/tenants/acme/")

    assert revoked.status_code == 204
    _assert_error(after, 401, "authentication_failed")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_removed_member_loses_access_on_the_next_request(acme, owner):
    dev = MembershipFactory(tenant=acme, user__username="dev", role=Role.DEVELOPER)
    _, plaintext = services.token_create(user=dev.user, scopes=["read"])
    assert _bearer(plaintext).get("/api/v1/tenants/acme/").status_code == 200

    assert _session(owner).delete("/api/v1/tenants/acme/members/dev/").status_code == 204

    _assert_error(_bearer(plaintext).get("/api/v1/tenants/acme/"), 404, "not_found")


def test_a_token_follows_its_users_role_down(acme, owner):
    admin = MembershipFactory(tenant=acme, user__username="admin", role=Role.ADMIN)
    _, plaintext = services.token_create(user=admin.user, scopes=["read", "admin"], tenant=acme)
    assert _bearer(plaintext).get("/api/v1/tenants/acme/audit/").status_code == 200

    services.member_update(actor=owner, tenant=acme, membership=admin, role=Role.VIEWER)

    _assert_error(_bearer(plaintext).get("/api/v1/tenants/acme/audit/"), 403, "permission_denied")
    assert _bearer(plaintext).get("/api/v1/tenants/acme/").status_code == 200


def test_the_token_is_shown_once(acme, owner):
    created = _send(_session(owner), "POST", "/api/v1/tokens/", {"scopes": ["read"], "name": "ci"})
    listed = _session(owner).get("/api/v1/tokens/")

    plaintext = created.json()["token"]
    assert plaintext.startswith("brt_")
    assert plaintext not in listed.content.decode()
    assert [item["name"] for item in listed.json()["results"]] == ["ci"]
    assert listed.json()["results"][0]["display"] == plaintext[:12] + "…"


# Lists, pagination and the audit trail.


def test_lists_use_cursor_pagination(acme, owner):
    for number in range(5):
        MembershipFactory(tenant=acme, user__username=f"m{number}", role=Role.VIEWER)
    client = _session(owner)

    first = client.get("/api/v1/tenants/acme/members/?limit=4").json()
    second = client.get(first["next"]).json()

    assert [item["username"] for item in first["results"]] == ["m4", "m3", "m2", "m1"]
    assert [item["username"] for item in second["results"]] == ["m0", "owner"]
    assert second["next"] is None


def test_the_audit_trail_is_per_tenant_with_ip_and_utc_time(acme, globex, owner):
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(owner)
    _send(client, "PATCH", "/api/v1/tenants/acme/", {"name": "Acme Inc"})

    events = client.get("/api/v1/tenants/acme/audit/").json()["results"]

    assert [(event["action"], event["actor"]) for event in events] == [
        ("tenant.update", "owner"),
        ("tenant.create", "owner"),
    ]
    assert events[0]["ip"] == "203.0.113.7"
    assert events[0]["diff"] == {"name": ["Acme", "Acme Inc"]}
    assert events[0]["created_at"].endswith("Z")
    assert _session(owner).get("/api/v1/tenants/globex/audit/").status_code == 404
