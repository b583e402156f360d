"""Rollout wall time on a Swarm cluster: Berth's rollout against a `docker service update` done directly.

    DATABASE_URL=postgres://... BERTH_DATA_DIR=/tmp/berth-bench .venv/bin/python bench/rollout.py --scheduler swarm

Runs as root: it forms the tests' own two-node Swarm (deployments/tests/swarm/nodes.py: two dockerds in network
namespaces, 10.60.0.11 the manager, 10.60.0.12 the worker) and builds the sample httpd image on both nodes. For each
size N, Berth rolls out a new release of an app of N web tasks on the cluster (a new service, every task waited
healthy through its node's address, the router switch, the old service removed), and the direct side updates a
service of the same spec made by the same adapter (`docker service update` through the Engine API: a new env value,
all N tasks at once as Berth starts them, start-first, a 1 s monitor), done once Swarm reports the update completed
and every new task answers on its node's address. Each figure is the median of --rounds rollouts; the first rollout of
each size (nothing to replace) is not measured. Everything created is removed and the nodes are stopped.
"""

from __future__ import annotations

import http.client
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from deployments.engine import swarm as swarm_ops
from deployments.models import Build, Cluster, Release
from deployments.router import router
from deployments.services.clusters import app_cluster_set, cluster_create, cluster_node_add
from deployments.tests.factories import AppFactory, FormationFactory, TenantFactory, UserFactory
from deployments.tests.swarm.nodes import SwarmNode, swarm_form
from samples import build_context, sample_tag
from tenants.models import Tenant

IMAGE = sample_tag("httpd")


def _answers(address: str, port: int, release: str) -> bool:
    connection = http.client.HTTPConnection(address, port, timeout=2)
    try:
        connection.request("GET", "/release.txt")
        response = connection.getresponse()
        return response.status == 200 and response.read().decode().strip() == release
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def direct_update(manager: swarm_ops.EngineSpec, client, service_id: str, size: int, version: int, nodes: dict) -> None:
    """`docker service update --env-add BERTH_RELEASE=v<version> --update-parallelism 0 --update-order start-first
    --update-monitor 1s`, waited until Swarm calls it completed and each new task serves the new release."""
    current = client.api.inspect_service(service_id)
    spec = current["Spec"]
    task = spec["TaskTemplate"]
    env = [item for item in task["ContainerSpec"].get("Env", []) if not item.startswith("BERTH_RELEASE=")]
    task["ContainerSpec"]["Env"] = [*env, f"BERTH_RELEASE=v{version}"]
    task["ForceUpdate"] = (task.get("ForceUpdate") or 0) + 1
    update = {**(spec.get("UpdateConfig") or {}), "Parallelism": 0, "Order": "start-first", "Monitor": 1_000_000_000}
    client.api.update_service(
        service_id,
        version=current["Version"]["Index"],
        task_template=task,
        name=spec["Name"],
        labels=spec.get("Labels"),
        mode=spec.get("Mode"),
        update_config=update,
        rollback_config=spec.get("RollbackConfig"),
        endpoint_spec=spec.get("EndpointSpec"),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = swarm_ops.service_update_status(manager, service_id=service_id)["state"]
        if state in ("rollback_started", "rollback_completed", "paused"):
            raise RuntimeError(f"direct update of {spec['Name']} ended {state}")
        tasks = [
            t
            for t in swarm_ops.service_tasks(manager, service_id=service_id)
            if t.desired == "running" and t.state == "running" and t.host_port
        ]
        if (
            state == "completed"
            and len(tasks) == size
            and all(_answers(nodes[t.node_id], t.host_port, f"v{version}") for t in tasks)
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"direct update of {spec['Name']} did not complete within 300 s")


def run(
    *, sizes: list[int], rounds: int, berth_release: Callable, berth_rollout: Callable[..., dict[str, float]]
) -> list[tuple[int, float, float]]:
    """Measure every size; return [(size, Berth's median s, direct median s)]."""
    log_dir = Path(tempfile.mkdtemp(prefix="berth-bench-swarm-"))
    nodes = [SwarmNode(1, log_dir), SwarmNode(2, log_dir)]
    slug = f"bench{secrets.token_hex(3)}"
    rows: list[tuple[int, float, float]] = []
    clients = []
    cluster = None
    try:
        for node in nodes:
            node.start()
        swarm_form(nodes[0], nodes[1:])
        for node in nodes:
            client = node.client(timeout=300)
            clients.append(client)
            context = build_context("httpd", log_dir / "httpd")
            client.images.build(path=str(context), tag=IMAGE, rm=True)
        manager_client = clients[0]
        staff = UserFactory(is_staff=True, username=f"staff-{slug}")
        cluster, _ = cluster_create(actor=staff, name=slug, manager_url=nodes[0].url)
        for node in nodes:
            cluster_node_add(actor=staff, cluster=cluster, name=f"{slug}-{node.number}", engine_url=node.url)
        manager = swarm_ops.EngineSpec(name=f"bench-{slug}", url=nodes[0].url)
        addresses = {node["id"]: node["address"] for node in swarm_ops.swarm_nodes(manager)}
        tenant = TenantFactory(slug=slug, max_containers=1000, max_memory_mb=1_000_000)
        router()  # Berth's router, which its rollouts switch
        version = 0
        for size in sizes:
            app = AppFactory(tenant=tenant, slug=f"b{size}")
            FormationFactory(app=app, process_type="web", quantity=size, memory_mb=64)
            app_cluster_set(actor=staff, app=app, cluster=cluster)
            version += 1
            berth_rollout(berth_release(app, size, version))  # nothing to replace: not measured
            direct = swarm_ops.ServiceSpec(
                name=f"berth-{slug}-direct-{size}",
                image=IMAGE,
                env={"PORT": "5000", "BERTH_RELEASE": "v0"},
                labels={"berth.tenant": slug, "berth.app": f"direct{size}", "berth.process": "web"},
                network=f"berth-{slug}",
                replicas=size,
                memory_mb=64,
                cpu=0.25,
                port=5000,
                default_user="10000:10000",
            )
            service_id = swarm_ops.service_create(manager, direct)
            direct_update(manager, manager_client, service_id, size, version, addresses)
            berth_times, direct_times = [], []
            for _ in range(rounds):
                version += 1
                release = berth_release(app, size, version)
                started = time.monotonic()
                berth_rollout(release)
                berth_times.append(time.monotonic() - started)
                started = time.monotonic()
                direct_update(manager, manager_client, service_id, size, version, addresses)
                direct_times.append(time.monotonic() - started)
            swarm_ops.service_remove(manager, service_id=service_id)
            berth, plain = statistics.median(berth_times), statistics.median(direct_times)
            rows.append((size, berth, plain))
            print(
                f"N={size:<3} berth on swarm {berth:6.2f} s   docker service update {plain:6.2f} s   "
                f"ratio {berth / plain:4.2f}",
                flush=True,
            )
    finally:
        if clients:
            for service in clients[0].services.list(filters={"name": f"berth-{slug}"}):
                service.remove()
        Release.objects.filter(app__tenant__slug=slug).delete()
        Build.objects.filter(app__tenant__slug=slug).delete()
        Tenant.objects.filter(slug=slug).delete()
        if cluster is not None:
            Cluster.objects.filter(pk=cluster.pk).delete()
        router().stop()
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()
    print("\n| tasks | Berth rollout on Swarm (s) | `docker service update` (s) | Berth / direct |")
    print("|---:|---:|---:|---:|")
    for size, berth, plain in rows:
        print(f"| {size} | {berth:.2f} | {plain:.2f} | {berth / plain:.2f} |")
    return rows
