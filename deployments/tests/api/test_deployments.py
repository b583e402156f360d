"""API of deployments: members read them, another tenant's answer 404."""

import pytest
from rest_framework.test import APIClient

from deployments.models import Deployment, DeploymentStatus
from deployments.tests.factories import AppFactory, MembershipFactory, ReleaseFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    tenant = TenantFactory(slug="acme")
    app = AppFactory(tenant=tenant, slug="web")
    release = ReleaseFactory(app=app, version=1)
    deployment = Deployment.objects.create(
        app=app,
        release=release,
        status=DeploymentStatus.SUCCEEDED,
        progress=100,
        steps=[{"name": "plan", "status": "succeeded", "started_at": "x", "finished_at": "y", "detail": ""}],
    )
    viewer = MembershipFactory(tenant=tenant, user=UserFactory(username="viewer"), role="viewer").user
    return app, deployment, viewer


def test_a_viewer_lists_and_reads_deployments(setup):
    _app, deployment, viewer = setup
    client = APIClient()
    client.force_authenticate(viewer)

    listed = client.get("/api/v1/tenants/acme/apps/web/deployments/")
    one = client.get(f"/api/v1/tenants/acme/apps/web/deployments/{deployment.pk}/")

    assert listed.status_code == 200
    assert [(d["id"], d["release"], d["status"]) for d in listed.json()["results"]] == [(deployment.pk, 1, "succeeded")]
    assert one.status_code == 200
    assert one.json()["steps"][0]["name"] == "plan"
    assert one.json()["progress"] == 100


def test_another_tenant_gets_404_for_deployments(setup):
    _app, deployment, _viewer = setup
    stranger = MembershipFactory(user=UserFactory(username="stranger"), role="owner").user
    client = APIClient()
    client.force_authenticate(stranger)

    assert client.get("/api/v1/tenants/acme/apps/web/deployments/").status_code == 404
    assert client.get(f"/api/v1/tenants/acme/apps/web/deployments/{deployment.pk}/").status_code == 404


def test_a_deployment_of_another_app_is_not_found_through_this_one(setup):
    app, deployment, viewer = setup
    AppFactory(tenant=app.tenant, slug="other")
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.get(f"/api/v1/tenants/acme/apps/other/deployments/{deployment.pk}/").status_code == 404
    assert client.get("/api/v1/tenants/acme/apps/web/deployments/abc/").status_code == 404


def test_a_viewer_cannot_restart_a_container(setup):
    _app, _deployment, viewer = setup
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.post("/api/v1/tenants/acme/apps/web/containers/abcdef123456/restart/").status_code == 403
