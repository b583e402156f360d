"""A two-node Swarm of the tests' own (deployments/tests/swarm/nodes.py), formed once per session."""

from __future__ import annotations

import contextlib
import secrets

import docker
import pytest

from deployments.engine.client import EngineSpec
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
