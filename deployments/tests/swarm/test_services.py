"""A process type as a Swarm service on a real two-node Swarm: hardened, served on each node, rolled back by Swarm."""

from __future__ import annotations

import http.client
import json
import time

import docker
import pytest

from deployments.engine import swarm as swarm_ops
from samples import sample_tag

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CANARY = "c3dhcm0tc2VjcmV0LWNhbmFyeQ"
HEALTH = ["wget", "-q", "-O", "/dev/null", "localhost:5000/"]


def _spec(name: str, *, replicas: int = 2, image: str | None = None, **overrides) -> swarm_ops.ServiceSpec:
    values = {
        "name": name,
        "image": image or sample_tag("httpd"),
        "env": {"PORT": "5000", "GREETING": "ahoy"},
        "labels": {"berth.tenant": "swarm-tests", "berth.app": name, "berth.process": "web"},
        "network": "berth-swarm-tests",
        "replicas": replicas,
        "memory_mb": 64,
        "cpu": 0.25,
        "port": 5000,
        "default_user": "10000:10000",
        "healthcheck_command": HEALTH,
        **overrides,
    }
    return swarm_ops.ServiceSpec(**values)


def _running(engine, service_id: str, count: int, timeout: float = 60) -> list[swarm_ops.Task]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = [t for t in swarm_ops.service_tasks(engine, service_id=service_id) if t.desired == "running"]
        running = [t for t in tasks if t.state == "running" and t.host_port]
        if len(running) == count and len(tasks) == count:
            return running
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} running tasks expected, found {[(t.state, t.error) for t in tasks]}")
        time.sleep(0.3)


def _get(address: str, port: int) -> int:
    connection = http.client.HTTPConnection(address, port, timeout=3)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _node_url(swarm_nodes, engine, node_id: str) -> tuple[str, str]:
    address = {node["id"]: node["address"] for node in swarm_ops.swarm_nodes(engine)}[node_id]
    [node] = [node for node in swarm_nodes if node.address == address]
    return address, node.url


@pytest.fixture
def network(swarm):
    engine, _prefix = swarm
    swarm_ops.overlay_ensure(engine, name="berth-swarm-tests", labels={"berth.tenant": "swarm-tests"})


def test_a_service_runs_hardened_on_both_nodes_serves_on_their_addresses_and_keeps_its_secret_file(
    swarm, swarm_nodes, network
):
    # given
    engine, prefix = swarm
    spec = _spec(f"{prefix}-web", secret_files={"/run/secrets/db.pem": CANARY.encode()})

    # when
    service_id = swarm_ops.service_create(engine, spec)
    tasks = _running(engine, service_id, 2)

    # then: one task on each node, each answering on its node's address from this machine (as the router would)
    assert len({task.node_id for task in tasks}) == 2
    for task in tasks:
        address, url = _node_url(swarm_nodes, engine, task.node_id)
        assert _get(address, task.host_port) == 200
        client = docker.DockerClient(base_url=url, timeout=60)
        container = client.containers.get(task.container_id)
        attrs = container.attrs
        stat = container.exec_run(["stat", "-c", "%a %u %g", "/run/secrets/db.pem"]).output.decode().strip()
        content = container.exec_run(["cat", "/run/secrets/db.pem"]).output.decode()
        write = container.exec_run(["sh", "-c", "echo x > /app/x"])
        tmp = container.exec_run(["sh", "-c", "echo x > /tmp/x && cat /tmp/x"]).output.decode().strip()
        env = container.exec_run(["env"]).output.decode()
        history = json.dumps(client.api.history(attrs["Image"]))
        saved = b"".join(client.images.get(attrs["Image"]).save())
        client.close()
        assert stat == "400 10000 10000"
        assert content == CANARY
        assert write.exit_code != 0 and b"Read-only file system" in write.output
        assert tmp == "x"
        assert "GREETING=ahoy" in env and CANARY not in env
        assert CANARY not in json.dumps(attrs) and CANARY not in history and CANARY.encode() not in saved
        host = attrs["HostConfig"]
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"] and host["Init"] is True
        assert host["PidsLimit"] == 512 and host["Memory"] == 64 * 1024 * 1024 and host["NanoCpus"] == 250_000_000
        assert attrs["Config"]["User"] == "10000:10000"
        assert attrs["Config"]["Labels"]["berth.app"] == spec.name
        assert attrs["Config"]["Healthcheck"]["Test"] == ["CMD", *HEALTH]
    manager = docker.DockerClient(base_url=swarm_nodes[0].url, timeout=60)
    inspected = manager.api.inspect_service(service_id)
    manager.close()
    assert CANARY not in json.dumps(inspected)
    [secret] = inspected["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert secret["File"] == {"Name": "/run/secrets/db.pem", "UID": "10000", "GID": "10000", "Mode": 0o400}


def test_an_update_whose_health_check_fails_is_rolled_back_by_swarm_and_the_old_tasks_keep_serving(
    swarm, swarm_nodes, network
):
    # given
    engine, prefix = swarm
    service_id = swarm_ops.service_create(engine, _spec(f"{prefix}-web"))
    before = {(t.node_id, t.host_port) for t in _running(engine, service_id, 2)}
    addresses = {node["id"]: node["address"] for node in swarm_ops.swarm_nodes(engine)}

    # when: an image that runs but never answers its health check
    swarm_ops.service_update(engine, service_id=service_id, image=sample_tag("unhealthy"))
    answers, deadline = [], time.monotonic() + 120
    state = {}
    while time.monotonic() < deadline:
        answers += [_get(addresses[node], port) for node, port in before]
        state = swarm_ops.service_update_status(engine, service_id=service_id)
        if state["state"] == "rollback_completed":
            break
        time.sleep(0.2)

    # then
    assert state["state"] == "rollback_completed", state
    assert "rollback" in state["message"].lower()
    assert answers and set(answers) == {200}
    after = _running(engine, service_id, 2)
    assert {(t.node_id, t.host_port) for t in after} == before


def test_scale_to_four_spreads_the_tasks_across_both_nodes(swarm, swarm_nodes, network):
    engine, prefix = swarm
    service_id = swarm_ops.service_create(engine, _spec(f"{prefix}-web", replicas=1))
    _running(engine, service_id, 1)

    swarm_ops.service_update(engine, service_id=service_id, replicas=4)
    tasks = _running(engine, service_id, 4)

    per_node = {}
    for task in tasks:
        per_node[task.node_id] = per_node.get(task.node_id, 0) + 1
    assert sorted(per_node.values()) == [2, 2]


def test_a_stopped_worker_has_its_tasks_moved_to_the_manager_and_the_service_keeps_serving(swarm, swarm_nodes, network):
    # given
    engine, prefix = swarm
    manager, worker = swarm_nodes
    service_id = swarm_ops.service_create(engine, _spec(f"{prefix}-web", replicas=2))
    _running(engine, service_id, 2)
    manager_id = next(node["id"] for node in swarm_ops.swarm_nodes(engine) if node["address"] == manager.address)
    started = time.monotonic()

    # when
    worker.stop()
    deadline, moved = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        tasks = [t for t in swarm_ops.service_tasks(engine, service_id=service_id) if t.desired == "running"]
        moved = [t for t in tasks if t.state == "running" and t.node_id == manager_id]
        if len(moved) == 2:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started

    # then
    assert len(moved) == 2, f"after {elapsed:.1f} s: {[(t.node_id[:6], t.state) for t in tasks]}"
    assert {_get(manager.address, t.host_port) for t in moved} == {200}
    print(f"worker stopped: both tasks running on the manager after {elapsed:.1f} s")
