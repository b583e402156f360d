"""GET /api/v1/tenants/{tenant}/apps/{app}/logs/: history, search, cursor pagination, isolation."""

import pytest
from rest_framework.test import APIClient

from deployments.logs.sinks import DatabaseSink
from deployments.logs.store import log_drops_record
from deployments.models import LogSink
from deployments.tests.factories import AppFactory, MembershipFactory, TenantFactory, UserFactory
from tenants.models import Role
from tenants.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_app(make_records):
    app = AppFactory(tenant=TenantFactory(slug="acme"), slug="web")
    web = make_records(app, 8, process="web", release=1)
    DatabaseSink().write(web + make_records(app, 4, start=9, process="worker"))
    return app


def _client(tenant, role=Role.VIEWER, scopes=("read",), restrict=True) -> APIClient:
    membership = MembershipFactory(tenant=tenant, role=role)
    _, plaintext = token_create(user=membership.user, scopes=list(scopes), tenant=tenant if restrict else None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


URL = "/api/v1/tenants/acme/apps/web/logs/"


def _lines(response) -> list[str]:
    return [m["line"] for m in response.json()["results"]]


def test_newest_lines_then_pages_back_and_forward(acme_app):
    client = _client(acme_app.tenant)

    newest = client.get(URL, {"limit": 5})
    previous = client.get(newest.json()["previous"])
    forward = client.get(URL, {"cursor": previous.json()["results"][-1]["cursor"], "limit": 3})

    assert newest.status_code == 200
    assert _lines(newest) == ["line 8", "line 9", "line 10", "line 11", "line 12"]
    assert newest.json()["dropped"] == 0
    assert _lines(previous) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert _lines(forward) == ["line 8", "line 9", "line 10"]
    assert set(newest.json()["results"][0]) == {
        "cursor",
        "timestamp",
        "release",
        "process",
        "index",
        "container",
        "stream",
        "line",
    }


def test_next_link_polls_for_new_lines(acme_app, make_records):
    client = _client(acme_app.tenant)
    first = client.get(URL)
    DatabaseSink().write(make_records(acme_app, 2, start=13))

    more = client.get(first.json()["next"])
    again = client.get(more.json()["next"])

    assert _lines(more) == ["line 13", "line 14"]
    assert _lines(again) == []
    assert again.json()["next"] == more.json()["next"]


def test_filters(acme_app):
    client = _client(acme_app.tenant)

    assert _lines(client.get(URL, {"process": "worker"})) == ["line 9", "line 10", "line 11", "line 12"]
    assert _lines(client.get(URL, {"q": "line 1"})) == ["line 1", "line 10", "line 11", "line 12"]
    assert _lines(client.get(URL, {"release": 1, "process": "web", "limit": 2})) == ["line 7", "line 8"]
    assert _lines(client.get(URL, {"until": "2026-11-28T03:00:01Z"})) == []
    assert len(_lines(client.get(URL, {"since": "2026-11-28T03:00:01Z"}))) == 12


def test_dropped_count_is_shown(acme_app):
    log_drops_record(counts={acme_app.pk: (acme_app.tenant_id, 7)})
    log_drops_record(counts={acme_app.pk: (acme_app.tenant_id, 5)})

    assert _client(acme_app.tenant).get(URL).json()["dropped"] == 12


def test_invalid_cursor_is_a_400(acme_app):
    response = _client(acme_app.tenant).get(URL, {"cursor": "nope"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["fields"] == {"cursor": ["Not a log cursor."]}


def test_other_tenant_gets_404_and_nothing(acme_app):
    globex = TenantFactory(slug="globex")
    AppFactory(tenant=globex, slug="web")
    client = _client(globex, role=Role.OWNER, scopes=("read", "write", "deploy", "admin"))

    foreign = client.get(URL)
    own = client.get("/api/v1/tenants/globex/apps/web/logs/")

    assert foreign.status_code == 404
    assert "results" not in foreign.json()
    assert own.status_code == 200
    assert own.json()["results"] == []


def test_token_restricted_to_another_tenant_gets_404(acme_app):
    globex = TenantFactory(slug="globex")
    user = UserFactory()
    MembershipFactory(tenant=acme_app.tenant, user=user, role=Role.OWNER)
    MembershipFactory(tenant=globex, user=user, role=Role.OWNER)
    _, plaintext = token_create(user=user, scopes=["read"], tenant=globex)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert client.get(URL).status_code == 404


def test_missing_app_and_anonymous(acme_app):
    assert _client(acme_app.tenant).get("/api/v1/tenants/acme/apps/nope/logs/").status_code == 404
    assert APIClient().get(URL).status_code in (401, 403)


def test_staff_reads_every_tenant(acme_app):
    staff = UserFactory(is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)

    assert len(_lines(client.get(URL))) == 12


def test_unreachable_opensearch_is_a_503(acme_app):
    LogSink.objects.create(tenant=acme_app.tenant, kind="opensearch", url="http://127.0.0.1:9")

    response = _client(acme_app.tenant).get(URL)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sink_unavailable"
