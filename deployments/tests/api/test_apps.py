import pytest

from deployments.models import App, Release
from deployments.services.apps import app_create
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

BASE = "/api/v1/tenants/acme/apps/"


def test_create_then_show_an_app(api, alice, settings):
    settings.BERTH_APPS_DOMAIN, settings.BERTH_ROUTER_PORT = "localhost", 8080

    created = api(alice).post(BASE, {"slug": "shop", "description": "Storefront"}, format="json")
    shown = api(alice).get(f"{BASE}shop/")

    assert created.status_code == 201
    assert shown.status_code == 200
    body = shown.json()
    del body["created_at"], body["updated_at"]
    assert body == {
        "slug": "shop",
        "description": "Storefront",
        "url": "http://shop.acme.localhost:8080/",
        "current_release": None,
        "latest_release": 1,
        "process_types": {"web": ""},
        "release_command": "",
        "reconciler": None,
    }


def test_list_apps_is_paginated_by_slug(api, tenant, alice, foreign_app):
    for slug in ("zeta", "alpha"):
        app_create(tenant=tenant, slug=slug, actor=alice)

    response = api(alice).get(BASE)

    assert response.status_code == 200
    assert [app["slug"] for app in response.json()["results"]] == ["alpha", "zeta"]


def test_create_refuses_a_bad_slug_a_taken_slug_and_over_quota(api, tenant, alice):
    tenant.max_apps = 1
    tenant.save()
    client = api(alice)

    bad = client.post(BASE, {"slug": "Bad_Slug"}, format="json")
    client.post(BASE, {"slug": "one"}, format="json")
    over = client.post(BASE, {"slug": "two"}, format="json")
    tenant.max_apps = 5
    tenant.save()
    taken = client.post(BASE, {"slug": "one"}, format="json")

    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {
        "slug": ["Use 1 to 40 lowercase letters, digits and hyphens, starting and ending with a letter or digit."]
    }
    assert over.status_code == 422
    assert over.json()["error"] == {
        "code": "quota_exceeded",
        "message": "Tenant acme already has 1 apps, its quota is 1. Delete an app or ask for a larger quota.",
        "fields": {"slug": ["At most 1 apps per tenant."]},
    }
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "app_exists"
    assert list(App.objects.values_list("slug", flat=True)) == ["one"]


def test_patch_updates_the_description(api, app, alice):
    response = api(alice).patch(f"{BASE}web/", {"description": "New"}, format="json")

    assert response.status_code == 200
    assert response.json()["description"] == "New"


def test_delete_takes_the_admin_scope_and_is_audited(api, app, alice, olivia):
    refused = api(alice).delete(f"{BASE}web/")
    assert refused.status_code == 403
    assert App.objects.filter(pk=app.pk).exists()

    response = api(olivia).delete(f"{BASE}web/")

    assert response.status_code == 204
    assert not App.objects.filter(pk=app.pk).exists()
    assert Release.objects.count() == 0
    assert AuditEvent.objects.filter(action="app.delete", actor_name="olivia").count() == 1


def test_a_viewer_reads_but_cannot_create_or_change(api, app, victor):
    client = api(victor)

    assert client.get(f"{BASE}web/").status_code == 200
    assert client.post(BASE, {"slug": "new"}, format="json").status_code == 403
    assert client.patch(f"{BASE}web/", {"description": "x"}, format="json").status_code == 403
    assert list(App.objects.values_list("slug", "description")) == [("web", "")]


def test_unknown_app_is_404(api, alice, tenant):
    assert api(alice).get(f"{BASE}nope/").status_code == 404


def test_options_and_head_take_the_read_scope_like_get(api, app, victor):
    client = api(victor)

    assert client.options(f"{BASE}web/").status_code == 200
    assert client.head(f"{BASE}web/releases/").status_code == 200
