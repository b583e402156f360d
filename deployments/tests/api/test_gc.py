"""The staff API of garbage collection: POST runs it on a host, GET lists the host's past runs."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from deployments.engine.fake import FakeEngine, container, image
from deployments.models import GcRun
from deployments.services import gc as services
from deployments.tests.factories import DockerHostFactory, MembershipFactory, UserFactory
from tenants.models import AuditEvent, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    engine = FakeEngine(
        containers=[container("old", "freed", finished_at=timezone.now() - timedelta(days=1), berth_app="web")],
        images=[image("freed", "berth/acme/web:1", layers=(("x", 42),))],
    )
    monkeypatch.setattr(services, "engine_gc", engine)
    return engine


@pytest.fixture
def staff_client():
    client = APIClient()
    client.force_login(UserFactory(username="root", is_staff=True))
    return client


def test_staff_runs_gc_and_gets_the_run(staff_client, fake):
    DockerHostFactory(name="h1")

    response = staff_client.post("/api/v1/hosts/h1/gc/", {"dry_run": False}, format="json")

    assert response.status_code == 201
    body = response.json()
    run = GcRun.objects.get()
    assert body["id"] == run.pk
    assert body["host"] == "h1"
    assert body["dry_run"] is False
    assert body["bytes_reclaimed"] == 42
    assert body["error"] == ""
    assert [c["id"] for c in body["removed"]["containers"]] == ["old"]
    assert [i["tags"] for i in body["removed"]["images"]] == [["berth/acme/web:1"]]
    assert fake.removed_images == ["sha256:freed"]
    assert AuditEvent.objects.get(action="host.gc").actor_name == "root"


def test_dry_run_removes_nothing(staff_client, fake):
    DockerHostFactory(name="h1")

    response = staff_client.post("/api/v1/hosts/h1/gc/", {"dry_run": True}, format="json")

    assert response.status_code == 201
    assert response.json()["dry_run"] is True
    assert [i["id"] for i in response.json()["removed"]["images"]] == ["freed"]
    assert fake.removed_containers == []
    assert fake.removed_images == []


def test_list_answers_the_runs_of_that_host_newest_first(staff_client):
    host = DockerHostFactory(name="h1")
    other = DockerHostFactory(name="h2")
    first = GcRun.objects.create(host=host, dry_run=True)
    second = GcRun.objects.create(host=host, dry_run=False, bytes_reclaimed=9)
    GcRun.objects.create(host=other)

    response = staff_client.get("/api/v1/hosts/h1/gc/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [second.pk, first.pk]
    assert response.json()["results"][0]["bytes_reclaimed"] == 9


def test_an_engine_that_does_not_answer_gives_a_run_with_its_error(staff_client):
    DockerHostFactory(name="down", engine_url="unix:///run/berth-gc-no-such-engine.sock")

    response = staff_client.post("/api/v1/hosts/down/gc/", {"dry_run": False}, format="json")

    assert response.status_code == 201
    assert response.json()["error"].startswith("Garbage collection of down stopped: ")
    assert response.json()["removed"] == {}
    assert response.json()["bytes_reclaimed"] == 0


def test_dry_run_is_required(staff_client, fake):
    DockerHostFactory(name="h1")

    response = staff_client.post("/api/v1/hosts/h1/gc/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"dry_run": ["This field is required."]}
    assert GcRun.objects.count() == 0
    assert fake.removed_images == []


def test_unknown_host_is_404(staff_client, fake):
    response = staff_client.post("/api/v1/hosts/nope/gc/", {"dry_run": False}, format="json")

    assert response.status_code == 404
    assert GcRun.objects.count() == 0


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.DEVELOPER])
def test_tenant_members_cannot_run_or_read_gc(role, fake):
    DockerHostFactory(name="h1")
    GcRun.objects.create(host=DockerHostFactory(name="h2"))
    client = APIClient()
    client.force_login(MembershipFactory(role=role).user)

    posted = client.post("/api/v1/hosts/h1/gc/", {"dry_run": False}, format="json")
    listed = client.get("/api/v1/hosts/h2/gc/")

    assert posted.status_code == 403
    assert listed.status_code == 403
    assert GcRun.objects.count() == 1
    assert fake.removed_images == []
    assert not AuditEvent.objects.filter(action__startswith="host.gc").exists()
