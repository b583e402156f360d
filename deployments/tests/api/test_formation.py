import pytest

from deployments.models import Formation, Release
from deployments.services.releases import release_deploy_build
from deployments.tests.factories import BuildFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/acme/apps/web/formation/"


@pytest.fixture
def deployed(app, alice):
    release_deploy_build(build=BuildFactory(app=app, process_types={"web": "./web", "worker": "./work"}), actor=alice)
    return app


def test_get_shows_every_process_type(api, deployed, alice):
    response = api(alice).get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "web": {
            "command": "./web",
            "quantity": 1,
            "memory": "256m",
            "memory_mb": 256,
            "cpu": 0.5,
            "healthcheck": "/",
            "healthcheck_timeout": 60,
            "read_only": True,
            "tmp": "64m",
        },
        "worker": {
            "command": "./work",
            "quantity": 1,
            "memory": "256m",
            "memory_mb": 256,
            "cpu": 0.5,
            "healthcheck": None,
            "healthcheck_timeout": 60,
            "read_only": True,
            "tmp": "64m",
        },
    }


def test_patch_quantity_only_scales_without_a_release(api, deployed, alice):
    response = api(alice).patch(URL, {"web": {"quantity": 2}}, format="json")

    assert response.status_code == 200
    assert response.json()["web"]["quantity"] == 2
    assert "Berth-Release" not in response.headers
    assert Release.objects.filter(app=deployed).count() == 2


def test_patch_limits_and_healthcheck_creates_a_release(api, deployed, alice):
    response = api(alice).patch(
        URL,
        {"web": {"quantity": 2, "memory": "512m", "cpu": 0.25, "healthcheck": {"command": "true"}}},
        format="json",
    )

    assert response.status_code == 200
    assert response.headers["Berth-Release"] == "3"
    web = response.json()["web"]
    assert (web["memory"], web["cpu"], web["healthcheck"]) == ("512m", 0.25, {"command": "true"})


def test_patch_over_the_memory_quota_is_a_422_and_changes_nothing(api, deployed, alice, tenant):
    tenant.max_memory_mb = 1024
    tenant.save()

    response = api(alice).patch(URL, {"web": {"quantity": 4}}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert Formation.objects.get(app=deployed, process_type="web").quantity == 1


def test_a_viewer_cannot_patch(api, deployed, victor):
    response = api(victor).patch(URL, {"web": {"quantity": 2}}, format="json")

    assert response.status_code == 403
    assert Formation.objects.get(app=deployed, process_type="web").quantity == 1
