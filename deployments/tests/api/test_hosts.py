"""Staff API of the hosts: only staff reach it, TLS material never comes back, drain and delete."""

import pytest
from rest_framework.test import APIClient

from deployments import crypto
from deployments.models import Container, ContainerState, DockerHost, HostStatus
from deployments.tests.factories import AppFactory, DockerHostFactory, ReleaseFactory, UserFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(UserFactory(username="ops", is_staff=True))
    return client


@pytest.fixture
def customer():
    client = APIClient()
    client.force_authenticate(UserFactory(username="customer"))
    return client


def test_a_non_staff_user_reaches_no_host_route_and_changes_nothing(customer):
    host = DockerHostFactory(name="h1", labels={"zone": "a"})

    answers = [
        customer.get("/api/v1/hosts/").status_code,
        customer.post("/api/v1/hosts/", {"name": "h2", "engine_url": "unix:///x.sock"}, format="json").status_code,
        customer.get("/api/v1/hosts/h1/").status_code,
        customer.patch("/api/v1/hosts/h1/", {"status": "draining"}, format="json").status_code,
        customer.delete("/api/v1/hosts/h1/").status_code,
    ]

    assert answers == [403, 403, 403, 403, 403]
    host.refresh_from_db()
    assert (host.status, host.labels, DockerHost.objects.count()) == (HostStatus.READY, {"zone": "a"}, 1)


def test_anonymous_callers_are_refused():
    assert APIClient().get("/api/v1/hosts/").status_code in (401, 403)


def test_staff_list_hosts_without_their_tls_material(staff):
    DockerHostFactory(
        name="remote",
        engine_url="tcp://10.0.0.5:2376",
        tls_cert=crypto.encrypt("CERT"),
        tls_key=crypto.encrypt("KEY"),
    )

    body = staff.get("/api/v1/hosts/").json()

    assert [(h["name"], h["engine_url"], h["tls"]) for h in body["results"]] == [
        ("remote", "tcp://10.0.0.5:2376", True)
    ]
    assert "tls_key" not in body["results"][0]
    assert "KEY" not in str(body)


def test_staff_drain_a_host_and_it_is_audited(staff):
    DockerHostFactory(name="h1")

    response = staff.patch("/api/v1/hosts/h1/", {"status": "draining", "labels": {"zone": "b"}}, format="json")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["labels"]) == ("draining", {"zone": "b"})
    event = AuditEvent.objects.get(action="host.update")
    assert event.diff == {"status": ["ready", "draining"], "labels": [{}, {"zone": "b"}]}


def test_staff_switch_a_hosts_routing_and_a_wrong_value_is_refused(staff):
    DockerHostFactory(name="h1")
    assert staff.get("/api/v1/hosts/h1/").json()["routing"] == "port"

    response = staff.patch("/api/v1/hosts/h1/", {"routing": "network"}, format="json")
    refused = staff.patch("/api/v1/hosts/h1/", {"routing": "mesh"}, format="json")

    assert (response.status_code, response.json()["routing"]) == (200, "network")
    assert AuditEvent.objects.get(action="host.update").diff == {"routing": ["port", "network"]}
    assert refused.status_code == 400
    assert "routing" in refused.json()["error"]["fields"]
    assert DockerHost.objects.get(name="h1").routing == "network"


def test_staff_cannot_set_a_host_down_by_hand(staff):
    DockerHostFactory(name="h1")

    response = staff.patch("/api/v1/hosts/h1/", {"status": "down"}, format="json")

    assert response.status_code == 400
    assert DockerHost.objects.get(name="h1").status == HostStatus.READY


def test_a_host_running_containers_cannot_be_deleted(staff):
    host = DockerHostFactory(name="h1")
    app = AppFactory()
    Container.objects.create(
        host=host,
        app=app,
        release=ReleaseFactory(app=app),
        process_type="web",
        index=1,
        name="c",
        state=ContainerState.RUNNING,
    )

    response = staff.delete("/api/v1/hosts/h1/")

    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("Host h1 still runs 1 Berth container(s)")
    assert DockerHost.objects.filter(name="h1").exists()


def test_an_empty_host_is_deleted(staff):
    DockerHostFactory(name="h1")

    assert staff.delete("/api/v1/hosts/h1/").status_code == 204
    assert staff.get("/api/v1/hosts/h1/").status_code == 404


def test_a_host_whose_engine_does_not_answer_is_refused_with_a_clear_error(staff, tmp_path):
    response = staff.post(
        "/api/v1/hosts/", {"name": "ghost", "engine_url": f"unix://{tmp_path}/none.sock"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "engine_unreachable"
    assert DockerHost.objects.count() == 0


@pytest.mark.docker
def test_staff_register_the_local_engine(staff, docker_engine_url, docker_engine_version):
    response = staff.post(
        "/api/v1/hosts/", {"name": "local", "engine_url": docker_engine_url, "labels": {"zone": "a"}}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["status"], body["tls"], body["labels"]) == ("local", "ready", False, {"zone": "a"})
    assert body["engine_version"] == docker_engine_version
    assert AuditEvent.objects.filter(action="host.create").count() == 1
