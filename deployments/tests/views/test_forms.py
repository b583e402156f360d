"""The app page's forms: they call the same services as the API and report the outcome as a message."""

import pytest
from django.contrib.auth import get_user_model

from deployments import crypto
from deployments.models import Formation, Release, ReleaseStatus
from deployments.services.apps import app_create
from deployments.services.config import config_update
from tenants.models import Role
from tenants.services import member_add, tenant_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    users = get_user_model().objects
    owner = users.create_user(username="olivia", password="x")
    viewer = users.create_user(username="victor", password="x")
    tenant = tenant_create(actor=owner, slug="acme")
    member_add(actor=owner, tenant=tenant, user=viewer, role=Role.VIEWER)
    app = app_create(tenant=tenant, slug="web", actor=owner)
    return owner, viewer, app


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_scale_form_sets_the_quantity(client, world):
    owner, _, app = world
    client.force_login(owner)

    response = client.post("/t/acme/apps/web/scale/", {"process_type": "web", "quantity": "3"}, follow=True)

    assert _messages(response) == ["Scaled web to 3."]
    assert Formation.objects.get(app=app, process_type="web").quantity == 3


def test_rollback_form_refuses_a_failed_release_and_changes_nothing(client, world):
    owner, _, app = world
    release = config_update(app=app, values={"A": "1"}, actor=owner)
    Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.FAILED, error="health check failed")
    config_update(app=app, values={"A": "2"}, actor=owner)
    client.force_login(owner)

    response = client.post("/t/acme/apps/web/rollback/", {"version": str(release.version)}, follow=True)

    assert len(_messages(response)) == 1
    assert "failed" in _messages(response)[0]
    assert Release.objects.filter(app=app).count() == 3


def test_a_viewer_cannot_post_the_forms(client, world):
    _, viewer, app = world
    client.force_login(viewer)

    scale = client.post("/t/acme/apps/web/scale/", {"process_type": "web", "quantity": "3"})
    config = client.post("/t/acme/apps/web/config/", {"key": "A", "value": "1"})

    assert (scale.status_code, config.status_code) == (404, 404)
    assert Formation.objects.get(app=app, process_type="web").quantity == 1
    assert Release.objects.filter(app=app).count() == 1


def test_a_refusal_from_a_service_comes_back_as_its_message_and_changes_nothing(client, world):
    owner, _, app = world
    app.tenant.max_containers = 2
    app.tenant.save()
    client.force_login(owner)

    response = client.post("/t/acme/apps/web/scale/", {"process_type": "web", "quantity": "3"}, follow=True)

    assert response.redirect_chain == [("/t/acme/apps/web/", 302)]
    assert _messages(response) == ["This would run 3 containers; tenant acme may run at most 2."]
    assert Formation.objects.get(app=app, process_type="web").quantity == 1


def test_a_rollback_to_a_missing_version_is_a_message_not_a_404_page(client, world):
    owner, _, app = world
    client.force_login(owner)

    response = client.post("/t/acme/apps/web/rollback/", {"version": "9"}, follow=True)

    assert response.status_code == 200
    assert _messages(response) == ["web has no release v9."]
    assert Release.objects.filter(app=app).count() == 1


def test_config_form_sets_a_secret_file_and_the_page_shows_its_path_not_its_value(client, world):
    owner, _, app = world
    client.force_login(owner)
    pem = "-----BEGIN KEY-----\r\nform-canary\r\n-----END KEY-----\r\n"

    response = client.post(
        "/t/acme/apps/web/config/", {"key": "DB_PEM", "value": pem, "file": "/run/secrets/db.pem"}, follow=True
    )

    assert _messages(response) == ["v2: olivia added DB_PEM"]
    var = app.config_vars.get(key="DB_PEM")
    assert (var.secret, var.file) == (True, "/run/secrets/db.pem")
    assert crypto.decrypt(var.value) == pem.replace("\r\n", "\n")
    page = response.content.decode()
    assert "/run/secrets/db.pem" in page
    assert "form-canary" not in page
