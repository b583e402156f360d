import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import Domain
from deployments.services.domains import domain_add
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/acme/apps/web/domains/"


@pytest.fixture(autouse=True)
def apps_domain(settings):
    settings.BERTH_APPS_DOMAIN = "localhost"


def _state():
    return (
        list(Domain.objects.order_by("pk").values_list("app_id", "hostname")),
        AuditEvent.objects.count(),
        DBTaskResult.objects.count(),
    )


def test_a_developer_adds_a_domain_and_the_router_sync_is_queued(api, app, alice, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).post(URL, {"hostname": "WWW.Example.com."}, format="json")

    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"hostname", "wildcard", "dns_target", "certificate", "created_at"}
    assert (body["hostname"], body["wildcard"], body["dns_target"]) == ("www.example.com", False, "web.acme.localhost")
    assert body["certificate"] is None
    assert list(Domain.objects.values_list("app_id", "hostname", "certificate", "private_key")) == [
        (app.pk, "www.example.com", "", "")
    ]
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["deployments.tasks.router_sync_run"]


def test_the_list_is_cursor_paginated_in_hostname_order(api, app, alice, victor):
    for name in ("b.example.com", "*.example.org", "a.example.com"):
        domain_add(app=app, hostname=name, actor=alice)
    client = api(victor)

    first = client.get(URL, {"limit": 2})
    second = client.get(first.json()["next"])

    assert first.status_code == 200
    assert [d["hostname"] for d in first.json()["results"]] == ["*.example.org", "a.example.com"]
    assert first.json()["results"][0]["wildcard"] is True
    assert [d["hostname"] for d in second.json()["results"]] == ["b.example.com"]
    assert second.json()["next"] is None


def test_show_one_domain_in_any_case(api, app, alice, victor):
    domain_add(app=app, hostname="www.example.com", actor=alice)

    response = api(victor).get(URL + "WWW.example.com/")

    assert response.status_code == 200
    assert response.json()["hostname"] == "www.example.com"
    assert "private_key" not in response.json()


def test_a_wildcard_is_shown_and_removed_by_its_name(api, app, alice, django_capture_on_commit_callbacks):
    domain_add(app=app, hostname="*.example.com", actor=alice)

    assert api(alice).get(URL + "*.example.com/").json()["wildcard"] is True
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).delete(URL + "%2A.example.com/")

    assert response.status_code == 204
    assert Domain.objects.count() == 0
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["deployments.tasks.router_sync_run"]


def test_a_developer_removes_a_domain_and_it_is_audited(api, app, alice):
    domain_add(app=app, hostname="www.example.com", actor=alice)

    response = api(alice).delete(URL + "www.example.com/")

    assert response.status_code == 204
    assert Domain.objects.count() == 0
    assert AuditEvent.objects.filter(action="domain.remove", actor=alice).count() == 1


def test_removing_a_domain_the_app_does_not_have_is_a_404(api, app, alice):
    response = api(alice).delete(URL + "nope.example.com/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field_message"),
    [
        (
            {"hostname": "203.0.113.7"},
            "An IP address cannot be a domain; give a hostname whose DNS points at the router.",
        ),
        (
            {"hostname": "shop.localhost"},
            "shop.localhost is served by the platform under localhost; every app already has its own name there.",
        ),
        ({"hostname": "example"}, 'A hostname has at least two labels, e.g. "example.com".'),
        ({}, "This field is required."),
        ({"hostname": ["a.example.com"]}, "Not a valid string."),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape_and_changes_nothing(api, app, alice, body, field_message):
    client = api(alice)
    before = _state()

    response = client.post(URL, body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("invalid", {"hostname": [field_message]})
    assert _state() == before


def test_a_hostname_another_tenant_has_is_a_409_without_its_name(api, app, foreign_app, alice, mallory):
    domain_add(app=foreign_app, hostname="www.example.com", actor=mallory)
    client = api(alice)
    before = _state()

    response = client.post(URL, {"hostname": "www.example.com"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "domain_taken",
            "message": "www.example.com is already in use by another app on this platform.",
            "fields": {},
        }
    }
    assert _state() == before


def test_a_viewer_reads_but_cannot_add_or_remove(api, app, alice, victor):
    domain_add(app=app, hostname="www.example.com", actor=alice)
    client = api(victor)
    before = _state()

    assert client.get(URL).status_code == 200
    assert client.post(URL, {"hostname": "shop.example.com"}, format="json").status_code == 403
    assert client.delete(URL + "www.example.com/").status_code == 403
    assert _state() == before


def test_a_token_without_write_cannot_add(api, app, olivia):
    response = api(olivia, scopes=["read", "deploy"]).post(URL, {"hostname": "shop.example.com"}, format="json")

    assert response.status_code == 403
    assert Domain.objects.count() == 0


def test_another_tenant_gets_404_on_every_route_and_changes_nothing(api, app, foreign_app, alice, mallory):
    domain_add(app=app, hostname="www.example.com", actor=alice)
    domain_add(app=foreign_app, hostname="theirs.example.com", actor=mallory)
    client = api(alice)
    before = _state()
    foreign = "/api/v1/tenants/globex/apps/web/domains/"

    # acme's own tenant, its app, globex's domain name; and globex's routes
    assert client.get(URL + "theirs.example.com/").status_code == 404
    assert client.delete(URL + "theirs.example.com/").status_code == 404
    assert client.get(foreign).status_code == 404
    assert client.post(foreign, {"hostname": "x.example.com"}, format="json").status_code == 404
    assert client.get(foreign + "theirs.example.com/").status_code == 404
    assert client.delete(foreign + "theirs.example.com/").status_code == 404
    assert _state() == before
