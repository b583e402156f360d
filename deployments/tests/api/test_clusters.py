"""Staff API of the Swarm clusters: a manager is registered once it answers as one; TLS material never comes back."""

import pytest
from rest_framework.test import APIClient

from deployments import crypto
from deployments.models import Cluster, DockerHost
from deployments.tests.factories import AppFactory, TenantFactory, UserFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/clusters/"
NODES = [
    {"id": "n1", "address": "10.0.0.1", "state": "ready", "availability": "active", "role": "manager", "labels": {}},
    {"id": "n2", "address": "10.0.0.2", "state": "ready", "availability": "active", "role": "worker", "labels": {}},
]


@pytest.fixture
def engine(fake_engine):
    return fake_engine


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(UserFactory(username="ops", is_staff=True))
    return client


def test_staff_register_a_manager_and_see_its_nodes_but_never_its_tls_material(staff, engine):
    engine.swarm_managers["cluster-big"] = NODES

    created = staff.post(
        URL,
        {"name": "big", "manager_url": "tcp://10.0.0.1:2376", "tls_cert": "CERT", "tls_key": "KEY"},
        format="json",
    )
    shown = staff.get(f"{URL}big/")

    assert created.status_code == 201, created.json()
    assert [node["role"] for node in created.json()["nodes"]] == ["manager", "worker"]
    assert shown.json()["nodes_error"] == "" and len(shown.json()["nodes"]) == 2
    assert shown.json()["tls"] is True and "KEY" not in str(shown.json()) and "CERT" not in str(shown.json())
    cluster = Cluster.objects.get(name="big")
    assert crypto.decrypt(cluster.tls_key) == "KEY"
    assert AuditEvent.objects.get(action="cluster.create").diff == {
        "manager_url": "tcp://10.0.0.1:2376",
        "nodes": 2,
        "tls": True,
    }
    assert staff.get(URL).json()["results"][0]["name"] == "big"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": "c", "manager_url": "unix:///run/engine.sock"}, "not_a_manager", "manager_url"),
        ({"name": "c", "manager_url": "tcp://10.0.0.1:2376"}, "invalid", "tls_cert"),
        ({"name": "c", "manager_url": "http://10.0.0.1"}, "invalid", "manager_url"),
    ],
)
def test_a_cluster_that_is_not_a_reachable_manager_is_refused_and_nothing_is_saved(staff, engine, body, code, field):
    response = staff.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert field in response.json()["error"]["fields"]
    assert Cluster.objects.count() == 0


def test_a_second_cluster_of_the_same_name_is_a_conflict_and_removal_is_audited(staff, engine):
    engine.swarm_managers["cluster-big"] = NODES
    assert staff.post(URL, {"name": "big", "manager_url": "unix:///run/m.sock"}, format="json").status_code == 201

    again = staff.post(URL, {"name": "big", "manager_url": "unix:///run/m.sock"}, format="json")
    removed = staff.delete(f"{URL}big/")

    assert again.status_code == 409
    assert removed.status_code == 204
    assert Cluster.objects.count() == 0
    assert AuditEvent.objects.filter(action="cluster.delete").count() == 1


def test_a_customer_reaches_no_cluster_route(engine):
    client = APIClient()
    client.force_authenticate(UserFactory(username="customer"))
    Cluster.objects.create(name="big", manager_url="unix:///run/m.sock")

    answers = [
        client.get(URL),
        client.get(f"{URL}big/"),
        client.delete(f"{URL}big/"),
        client.post(f"{URL}big/nodes/", {"name": "n", "engine_url": "unix:///run/n.sock"}, format="json"),
        client.post(f"{URL}big/apps/", {"tenant": "acme", "app": "shop"}, format="json"),
        client.delete(f"{URL}big/apps/acme/shop/"),
    ]

    assert [answer.status_code for answer in answers] == [403] * 6
    assert Cluster.objects.count() == 1


@pytest.fixture
def big(staff, engine):
    engine.swarm_managers["cluster-big"] = NODES
    assert staff.post(URL, {"name": "big", "manager_url": "unix:///run/m.sock"}, format="json").status_code == 201
    return Cluster.objects.get(name="big")


def test_staff_register_a_node_of_the_cluster_as_its_host_at_the_node_address(staff, engine, big):
    engine.swarm_node_ids["node-worker"] = "n2"

    response = staff.post(f"{URL}big/nodes/", {"name": "worker", "engine_url": "unix:///run/n2.sock"}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["name"], response.json()["address"]) == ("worker", "10.0.0.2")
    host = DockerHost.objects.get(name="worker")
    assert (host.cluster_id, host.node_id, host.labels) == (big.pk, "n2", {"swarm.role": "worker"})
    assert list(DockerHost.objects.standalone()) == []
    assert AuditEvent.objects.filter(action="host.create").count() == 1


@pytest.mark.parametrize("node_id", ["", "n9"])
def test_an_engine_that_is_no_node_of_the_cluster_is_refused_and_nothing_is_saved(staff, engine, big, node_id):
    engine.swarm_node_ids["node-stray"] = node_id

    response = staff.post(f"{URL}big/nodes/", {"name": "stray", "engine_url": "unix:///run/x.sock"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_a_node"
    assert DockerHost.objects.count() == 0


def test_staff_place_an_app_on_the_cluster_and_back_on_the_hosts_audited(staff, engine, big):
    app = AppFactory(tenant=TenantFactory(slug="acme"), slug="shop")

    placed = staff.post(f"{URL}big/apps/", {"tenant": "acme", "app": "shop"}, format="json")
    app.refresh_from_db()
    on_cluster = app.cluster_id
    deleting = staff.delete(f"{URL}big/")
    back = staff.delete(f"{URL}big/apps/acme/shop/")
    app.refresh_from_db()

    assert placed.status_code == 200, placed.json()
    assert placed.json() == {"tenant": "acme", "app": "shop", "cluster": "big"}
    assert on_cluster == big.pk
    assert deleting.status_code == 409  # an app still runs on it
    assert back.json() == {"tenant": "acme", "app": "shop", "cluster": None}
    assert app.cluster_id is None
    assert [event.diff for event in AuditEvent.objects.filter(action="app.cluster").order_by("id")] == [
        {"cluster": [None, "big"]},
        {"cluster": ["big", None]},
    ]


def test_an_unknown_app_or_one_of_another_cluster_is_not_found_and_nothing_changes(staff, engine, big):
    AppFactory(tenant=TenantFactory(slug="acme"), slug="shop")

    unknown = staff.post(f"{URL}big/apps/", {"tenant": "acme", "app": "nope"}, format="json")
    not_here = staff.delete(f"{URL}big/apps/acme/shop/")

    assert (unknown.status_code, not_here.status_code) == (404, 404)
    assert AuditEvent.objects.filter(action="app.cluster").count() == 0
