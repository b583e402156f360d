"""The Django admin: superusers only, and read-only where a service owns the writes (each refused, rows unchanged)."""

import pytest
from django.contrib.auth import get_user_model

from deployments.models import App, DockerHost, GcRun
from deployments.tests.factories import AppFactory, DockerHostFactory
from tenants.models import AuditEvent, Membership, Role
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db
ADMIN = "/console/admin/"


@pytest.fixture
def superuser(client):
    user = get_user_model().objects.create_user(username="root", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_staff_who_are_not_superusers_are_sent_to_the_admin_login(client):
    client.force_login(get_user_model().objects.create_user(username="sam", password="x", is_staff=True))

    response = client.get(ADMIN + "deployments/dockerhost/")

    assert response.status_code == 302 and response["Location"].startswith(ADMIN + "login/")


def test_a_superuser_reads_the_rows(client, superuser):
    DockerHostFactory(name="edge-1")

    response = client.get(ADMIN + "deployments/dockerhost/")

    assert response.status_code == 200 and b"edge-1" in response.content


def test_the_admin_cannot_create_a_tcp_host_without_tls(client, superuser):
    body = {"name": "edge", "engine_url": "tcp://10.0.0.5:2376", "address": "10.0.0.5", "status": "ready"}
    body.update(capacity_containers="10", capacity_memory_mb="1024", labels="{}")

    response = client.post(ADMIN + "deployments/dockerhost/add/", body)

    assert response.status_code == 403
    assert DockerHost.objects.count() == 0


def test_the_admin_cannot_set_a_host_down_or_change_its_url(client, superuser):
    host = DockerHostFactory(name="edge", engine_url="unix:///var/run/docker.sock")

    response = client.post(
        ADMIN + f"deployments/dockerhost/{host.pk}/change/",
        {"name": "edge", "engine_url": "tcp://10.0.0.5:2376", "status": "down"},
    )

    assert response.status_code == 403
    host.refresh_from_db()
    assert (host.engine_url, host.status) == ("unix:///var/run/docker.sock", "ready")


def test_the_admin_cannot_change_an_apps_slug(client, superuser):
    app = AppFactory(slug="web")

    response = client.post(ADMIN + f"deployments/app/{app.pk}/change/", {"slug": "renamed", "tenant": app.tenant_id})

    assert response.status_code == 403
    assert list(App.objects.values_list("slug", flat=True)) == ["web"]


def test_the_admin_cannot_remove_the_last_owner(client, superuser):
    owner = get_user_model().objects.create_user(username="olga")
    tenant = tenant_create(actor=owner, slug="acme")
    membership = Membership.objects.get(tenant=tenant)
    prefix = "memberships"
    body = {
        "slug": "acme",
        "name": "acme",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-0-id": str(membership.pk),
        f"{prefix}-0-tenant": str(tenant.pk),
        f"{prefix}-0-user": str(owner.pk),
        f"{prefix}-0-role": Role.OWNER,
        f"{prefix}-0-DELETE": "on",
    }

    response = client.post(ADMIN + f"tenants/tenant/{tenant.pk}/change/", body)
    deleted = client.post(ADMIN + f"tenants/tenant/{tenant.pk}/delete/", {"post": "yes"})

    assert (response.status_code, deleted.status_code) == (403, 403)
    assert list(Membership.objects.values_list("user__username", "role")) == [("olga", Role.OWNER)]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["tenant.create"]


def test_the_admin_cannot_fabricate_a_gc_run(client, superuser):
    host = DockerHostFactory(name="h1")

    response = client.post(
        ADMIN + "deployments/gcrun/add/",
        {"host": host.pk, "dry_run": "", "removed": "{}", "bytes_reclaimed": "999999", "created_at_0": "2026-12-01"},
    )

    assert response.status_code == 403
    assert GcRun.objects.count() == 0


def test_the_admin_shows_no_add_button_for_a_gc_run(client, superuser):
    response = client.get(ADMIN + "deployments/gcrun/")

    assert response.status_code == 200
    assert b"/console/admin/deployments/gcrun/add/" not in response.content
