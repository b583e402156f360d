"""A two-node Swarm of the tests' own (deployments/tests/swarm/nodes.py), formed once per session."""

from __future__ import annotations

import contextlib
import secrets
import time

import docker
import pytest

from deployments.engine.client import EngineSpec
from deployments.services.clusters import app_cluster_set, cluster_create, cluster_node_add
from deployments.tests.factories import AppFactory, TenantFactory, UserFactory

# The integration tests' hosts, router, releases and traffic loop; here `app` runs on the cluster unless a test module
# says otherwise (test_schedulers.py: on either scheduler).
from deployments.tests.integration.conftest import hosts, make_release, router, tenant_slug, traffic  # noqa: F401 (fixtures)
from deployments.tests.swarm.nodes import SwarmNode, swarm_form


@pytest.fixture(scope="session")
def swarm_nodes(tmp_path_factory, sample_image):
    """[manager, worker], both ready, both holding the sample images; stopped at the end of the session."""
    log_dir = tmp_path_factory.mktemp("swarm-logs")
    nodes = [SwarmNode(1, log_dir), SwarmNode(2, log_dir)]
    try:
        for node in nodes:
            node.start()
        swarm_form(nodes[0], nodes[1:])
        for node in nodes:
            for name in ("httpd", "unhealthy"):
                sample_image(name, engine_url=node.url)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def swarm(swarm_nodes):
    """The manager's EngineSpec; afterwards every service, secret and network the test made is removed."""
    manager, worker = swarm_nodes
    worker.start()  # a test that stopped it gets it back for the next
    prefix = f"berth-sw{secrets.token_hex(3)}"
    yield EngineSpec(name="swarm", url=manager.url), prefix
    client = docker.DockerClient(base_url=manager.url, timeout=60)
    try:
        for service in client.services.list(filters={"name": prefix}):
            service.remove()
        for secret in client.secrets.list(filters={"name": prefix}):
            with contextlib.suppress(docker.errors.APIError):
                secret.remove()
    finally:
        client.close()


@pytest.fixture
def cluster(swarm, swarm_nodes, db):
    """The test swarm registered as cluster `lab`, both nodes as its hosts (reached at their own addresses)."""
    manager = swarm_nodes[0]
    staff = UserFactory(is_staff=True)
    cluster, _nodes = cluster_create(actor=staff, name="lab", manager_url=manager.url)
    for node in swarm_nodes:
        cluster_node_add(actor=staff, cluster=cluster, name=node.name, engine_url=node.url)
    return cluster


@pytest.fixture
def swarm_app(swarm, cluster):
    """An app of a tenant named after the test's prefix (so the swarm fixture removes its services), on `cluster`;
    afterwards its tenant's overlay network is removed."""
    engine, prefix = swarm
    tenant = TenantFactory(slug=prefix.removeprefix("berth-"))
    app = AppFactory(tenant=tenant, slug="web")
    app_cluster_set(actor=UserFactory(is_staff=True), app=app, cluster=cluster)
    yield app
    client = docker.DockerClient(base_url=engine.url, timeout=60)
    try:
        for service in client.services.list(filters={"name": prefix}):
            service.remove()
        deadline = time.monotonic() + 30
        for network in client.networks.list(names=[f"berth-{tenant.slug}"]):
            while True:
                try:
                    network.remove()
                    break
                except docker.errors.APIError:
                    # Its tasks are still going away on the nodes.
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
    finally:
        client.close()


@pytest.fixture
def app(swarm_app):
    return swarm_app
