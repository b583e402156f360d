"""Every route of apps, config, releases and formation answers 404 to another tenant and changes nothing."""

import pytest
from rest_framework.test import APIClient

from deployments.models import App, ConfigVar, Formation, Release, ReleaseStatus
from deployments.services.apps import app_create
from deployments.services.config import config_update
from deployments.tests.factories import MembershipFactory
from tenants.models import AuditEvent
from tenants.services import token_create

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/tenants/acme/apps/", None),
    ("post", "/api/v1/tenants/acme/apps/", {"slug": "intruder"}),
    ("get", "/api/v1/tenants/acme/apps/shop/", None),
    ("patch", "/api/v1/tenants/acme/apps/shop/", {"description": "pwned"}),
    ("delete", "/api/v1/tenants/acme/apps/shop/", None),
    ("get", "/api/v1/tenants/acme/apps/shop/config/", None),
    ("get", "/api/v1/tenants/acme/apps/shop/config/?reveal=TOKEN", None),
    ("patch", "/api/v1/tenants/acme/apps/shop/config/", {"EVIL": "1"}),
    ("get", "/api/v1/tenants/acme/apps/shop/releases/", None),
    ("get", "/api/v1/tenants/acme/apps/shop/releases/1/", None),
    ("post", "/api/v1/tenants/acme/apps/shop/rollback/", {"version": 1}),
    ("get", "/api/v1/tenants/acme/apps/shop/formation/", None),
    ("patch", "/api/v1/tenants/acme/apps/shop/formation/", {"web": {"quantity": 5}}),
    # The caller's own tenant with the other tenant's app slug: still nobody's app.
    ("get", "/api/v1/tenants/globex/apps/shop/", None),
    ("patch", "/api/v1/tenants/globex/apps/shop/config/", {"EVIL": "1"}),
    ("get", "/api/v1/tenants/globex/apps/shop/releases/", None),
    ("post", "/api/v1/tenants/globex/apps/shop/rollback/", {"version": 1}),
    ("patch", "/api/v1/tenants/globex/apps/shop/formation/", {"web": {"quantity": 5}}),
]


def _state():
    return (
        list(App.objects.order_by("pk").values_list("tenant_id", "slug", "description")),
        list(ConfigVar.objects.order_by("pk").values_list("app_id", "key", "value")),
        list(Release.objects.order_by("pk").values_list("app_id", "version", "status")),
        list(Formation.objects.order_by("pk").values_list("app_id", "process_type", "quantity", "memory_mb")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def shop(tenant, alice):
    app = app_create(tenant=tenant, slug="shop", actor=alice)
    config_update(app=app, values={"TOKEN": {"value": "s3", "secret": True}}, actor=alice)
    Release.objects.filter(app=app, version=1).update(status=ReleaseStatus.SUCCEEDED)
    return app


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
def test_another_tenant_gets_404_and_changes_nothing(api, shop, mallory, method, url, body):
    # given: mallory owns globex and holds every scope there
    client = api(mallory)
    before = _state()

    response = getattr(client, method)(url, body, format="json")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
    assert _state() == before


@pytest.mark.parametrize(("method", "url", "body"), ROUTES[:13])
def test_a_token_restricted_to_another_tenant_gets_404(api, shop, alice, other_tenant, method, url, body):
    MembershipFactory(tenant=other_tenant, user=alice)
    _token, plaintext = token_create(user=alice, scopes=["read", "write"], tenant=other_tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    before = _state()

    response = getattr(client, method)(url, body, format="json")

    assert response.status_code == 404
    assert _state() == before
