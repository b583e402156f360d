"""The staff console: its pages, open to staff only, and the admin's changelists, never showing secrets."""

import pytest
from django.contrib.auth import get_user_model

from deployments.models import Deployment, DeploymentStatus, DockerHost, GcRun, HostHeartbeat
from deployments.services.config import config_update
from deployments.tests.factories import AppFactory, DockerHostFactory, ReleaseFactory
from tenants.models import AuditEvent
from tenants.services import token_create

pytestmark = pytest.mark.django_db

CANARY = "canary-console-51c0ffee"
ADMIN_PAGES = [
    "/console/admin/tenants/tenant/",
    "/console/admin/tenants/apitoken/",
    "/console/admin/tenants/auditevent/",
    "/console/admin/deployments/app/",
    "/console/admin/deployments/release/",
    "/console/admin/deployments/build/",
    "/console/admin/deployments/dockerhost/",
    "/console/admin/deployments/container/",
    "/console/admin/deployments/deployment/",
]


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user(username="sam", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_staff_sees_the_hosts_page(client, staff):
    DockerHostFactory(name="edge-1", engine_url="tcp://10.0.0.5:2376")

    response = client.get("/console/hosts/")

    assert response.status_code == 200
    assert b"edge-1" in response.content
    assert b"tcp://10.0.0.5:2376" in response.content


def test_a_customer_gets_404_and_an_anonymous_caller_the_login_page(client):
    assert client.get("/console/hosts/")["Location"] == "/login/?next=/console/hosts/"
    user = get_user_model().objects.create_user(username="cora", password="x")
    client.force_login(user)

    response = client.get("/console/hosts/")

    assert response.status_code == 404


def test_admin_pages_show_neither_secrets_nor_tokens(client, staff):
    app = AppFactory()
    config_update(app=app, values={"API_KEY": {"value": CANARY, "secret": True}}, actor=staff)
    _, plaintext = token_create(user=staff, scopes=["read"])
    pages = [*ADMIN_PAGES, f"/console/admin/deployments/release/{app.releases.first().pk}/change/"]

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert CANARY.encode() not in response.content, url
        assert plaintext.encode() not in response.content, url


def test_the_overview_counts_the_fleet(client, staff):
    DockerHostFactory(name="a", capacity_memory_mb=1000, capacity_containers=4)
    DockerHostFactory(name="b", status="draining", capacity_memory_mb=500, capacity_containers=2)

    response = client.get("/console/")

    fleet = response.context["fleet"]
    assert (fleet.hosts_by_state, fleet.memory_capacity_mb, fleet.slots_capacity) == (
        {"ready": 1, "draining": 1},
        1500,
        6,
    )


def test_suspending_needs_the_slug_typed_and_a_wrong_one_changes_nothing(client, staff):
    app = AppFactory()
    tenant = app.tenant

    response = client.post(f"/console/tenants/{tenant.slug}/suspend/", {"confirm": "nope"})

    assert response.status_code == 400
    assert f"Type {tenant.slug} to suspend".encode() in response.content
    tenant.refresh_from_db()
    assert tenant.suspended_at is None
    assert not AuditEvent.objects.filter(action="tenant.suspend").exists()


def test_registering_a_tcp_host_without_tls_is_refused_with_the_reason_and_saves_nothing(client, staff):
    body = {"name": "edge", "engine_url": "tcp://10.0.0.5:2376", "address": "10.0.0.5"}
    body.update(capacity_containers="10", capacity_memory_mb="1024")

    response = client.post("/console/hosts/register/", body)

    assert response.status_code == 400
    assert b"needs TLS client certificates" in response.content
    assert not DockerHost.objects.filter(name="edge").exists()


def test_a_real_gc_run_asks_first_and_shows_the_last_dry_run(client, staff):
    host = DockerHostFactory(name="h1")
    GcRun.objects.create(host=host, dry_run=True, removed={"containers": [{}], "images": [{}, {}]}, bytes_reclaimed=42)

    response = client.get("/console/hosts/h1/gc/")

    assert response.status_code == 200
    assert b"would remove 1 container(s) and 2 image(s), 42 bytes" in response.content
    assert GcRun.objects.count() == 1


def test_retrying_a_rollout_that_did_not_fail_is_refused_and_queues_nothing(client, staff):
    release = ReleaseFactory()
    deployment = Deployment.objects.create(app=release.app, release=release, status=DeploymentStatus.SUCCEEDED)

    response = client.post(f"/console/deployments/{deployment.pk}/retry/", follow=True)

    assert b"only a failed rollout can be retried" in response.content
    assert Deployment.objects.count() == 1


def test_the_host_page_shows_its_heartbeat_history(client, staff):
    host = DockerHostFactory(name="edge-2")
    for ok, latency, error in ((True, 4, ""), (False, 5003, "engine edge-2 did not answer (timeout)"), (True, 6, "")):
        HostHeartbeat.objects.create(host=host, ok=ok, latency_ms=latency, error=error)

    page = client.get("/console/hosts/edge-2/").content.decode()

    assert '<strong id="heartbeats-answered">2</strong> of the last <span id="heartbeats-count">3</span>' in page
    assert "in 6 ms (median), 6 ms at most" in page
    assert page.count('class="beat ok"') == 2
    assert page.count('class="beat down"') == 1
    assert "engine edge-2 did not answer (timeout)" in page


def test_staff_set_a_tenant_plan_with_its_quotas_and_the_list_shows_it(client, staff):
    tenant = AppFactory().tenant
    body = {"plan": "team", "max_apps": 7, "max_containers": 30, "max_memory_mb": 4096}

    response = client.post(f"/console/tenants/{tenant.slug}/quotas/", body)

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.plan, tenant.max_apps, tenant.max_containers, tenant.max_memory_mb) == ("team", 7, 30, 4096)
    assert "<td>team</td>" in client.get("/console/tenants/").content.decode()
    assert 'value="team"' in client.get(f"/console/tenants/{tenant.slug}/").content.decode()
    assert AuditEvent.objects.get(action="tenant.update", actor_name="sam").diff["plan"] == ["", "team"]
