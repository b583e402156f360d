"""Registering a Swarm cluster against real engines: the test swarm's manager, and an engine that is none."""

import pytest

from deployments.models import Cluster
from deployments.services.clusters import cluster_create, cluster_nodes
from deployments.tests.factories import UserFactory
from portal.errors import Invalid

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db]


def test_the_manager_of_a_real_swarm_is_registered_with_both_nodes(swarm, swarm_nodes):
    manager, worker = swarm_nodes

    cluster, nodes = cluster_create(actor=UserFactory(is_staff=True), name="lab", manager_url=manager.url)

    assert sorted((node["address"], node["role"], node["state"]) for node in nodes) == [
        (manager.address, "manager", "ready"),
        (worker.address, "worker", "ready"),
    ]
    assert cluster.engine_version
    assert cluster_nodes(cluster=cluster)[1] == ""


def test_an_engine_that_is_no_manager_is_refused(docker_engine_url):
    with pytest.raises(Invalid) as refused:
        cluster_create(actor=UserFactory(is_staff=True), name="lab", manager_url=docker_engine_url)

    assert refused.value.code == "not_a_manager"
    assert "is not a Swarm manager" in refused.value.message
    assert Cluster.objects.count() == 0
