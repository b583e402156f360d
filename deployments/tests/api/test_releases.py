import pytest

from deployments.models import Release, ReleaseStatus
from deployments.services.config import config_update
from deployments.services.releases import release_deploy_build
from deployments.tests.factories import BuildFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/tenants/acme/apps/web/"


@pytest.fixture
def history(app, alice):
    """v1 created, v2 build 1 (live), v3 SECRET set (failed)."""
    v2 = release_deploy_build(build=BuildFactory(app=app, number=1, image="registry.test/web:1"), actor=alice)
    v2.status = ReleaseStatus.SUCCEEDED
    v2.save(update_fields=["status"])
    app.current_release = v2
    app.save(update_fields=["current_release"])
    v3 = config_update(app=app, values={"SECRET": {"value": "s3", "secret": True}, "A": "1"}, actor=alice)
    v3.status, v3.error = ReleaseStatus.FAILED, "web exited with status 1"
    v3.save(update_fields=["status", "error"])
    return app


def test_release_history_newest_first(api, history, alice):
    response = api(alice).get(f"{BASE}releases/")

    assert response.status_code == 200
    rows = [(r["version"], r["status"], r["summary"], r["build"], r["current"]) for r in response.json()["results"]]
    assert rows == [
        (3, "failed", "alice added A, SECRET", 1, False),
        (2, "succeeded", "alice deployed build 1", 1, True),
        (1, "pending", "alice created web", None, False),
    ]


def test_release_detail_masks_secrets(api, history, alice):
    response = api(alice).get(f"{BASE}releases/3/")

    assert response.status_code == 200
    body = response.json()
    assert body["config"] == {"A": "1", "SECRET": "********"}
    assert (body["image"], body["error"], body["created_by"]) == (
        "registry.test/web:1",
        "web exited with status 1",
        "alice",
    )
    assert body["formation"]["web"]["healthcheck"] == "/"


def test_unknown_release_is_404(api, history, alice):
    assert api(alice).get(f"{BASE}releases/9/").status_code == 404


def test_rollback_to_a_succeeded_release(api, history, alice):
    response = api(alice).post(f"{BASE}rollback/", {"version": 2}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["version"], body["summary"], body["rollback_of"], body["status"]) == (
        4,
        "alice rolled back to v2",
        2,
        "pending",
    )
    assert body["config"] == {}
    assert api(alice).get(f"{BASE}config/").json() == {}


def test_rollback_to_a_failed_release_is_a_409(api, history, alice):
    response = api(alice).post(f"{BASE}rollback/", {"version": 3}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "release_failed",
        "message": "v3 failed: web exited with status 1. Roll back to a release that succeeded.",
        "fields": {},
    }
    assert Release.objects.filter(app=history).count() == 3


def test_rollback_takes_the_deploy_scope(api, history, alice, victor):
    assert api(victor).post(f"{BASE}rollback/", {"version": 2}, format="json").status_code == 403
    assert (
        api(alice, scopes=["read", "write"]).post(f"{BASE}rollback/", {"version": 2}, format="json").status_code == 403
    )
    assert Release.objects.filter(app=history).count() == 3


def test_rollback_needs_a_version(api, history, alice):
    response = api(alice).post(f"{BASE}rollback/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"version": ["This field is required."]}


def test_release_history_pages_with_a_cursor(api, history, alice):
    client = api(alice)

    first = client.get(f"{BASE}releases/", {"limit": 2}).json()
    second = client.get(first["next"]).json()

    assert [release["version"] for release in first["results"]] == [3, 2]
    assert [release["version"] for release in second["results"]] == [1]
    assert second["next"] is None
