"""Rollout wall time: Berth's rollout against the same Docker operations done directly with the SDK, one by one.

    DATABASE_URL=postgres://... BERTH_DATA_DIR=/tmp/berth-bench .venv/bin/python bench/rollout.py [--sizes 1,4,16]

For each size N, every side replaces N running web containers of the sample httpd image with N new ones:
ensure the image and the tenant network, create and start each container hardened, wait for its HTTP health check,
then stop and remove the old ones. Berth also switches its router (HAProxy) between the two. The direct script runs
three times: with Docker operations only (the baseline: the port published on loopback), with the same router switch
a zero-downtime rollout needs (HAProxy's runtime API through Berth's driver: add the new servers, drain the old), so
Berth's own cost shows apart from the router's, and that again with nothing published (the router reaching each
container at its address on the tenant network, as Berth does on a host that routes by network: `--routing`).
Each measurement is the median of --rounds rollouts. Everything created carries a unique tenant label and is removed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ["BERTH_ROUTER_PORT"] = str(free_port())
os.environ["BERTH_ROUTER_TLS_PORT"] = str(free_port())

import django  # noqa: E402  (settings come from the environment set above)

django.setup()

import docker  # noqa: E402
import rollout_swarm  # noqa: E402 (bench/, beside this script; needs Django set up)
from django.core.management import call_command  # noqa: E402

from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, TENANT_LABEL, label_filter  # noqa: E402 (Django is set up first)
from deployments.models import Build, DeploymentStatus, DockerHost, Release  # noqa: E402
from deployments.router import HAProxy, Route, router  # noqa: E402
from deployments.services.rollouts import deployment_execute, rollout_enqueue  # noqa: E402
from deployments.tests.factories import AppFactory, FormationFactory, ReleaseFactory, TenantFactory  # noqa: E402
from samples import build_context, sample_tag  # noqa: E402
from tenants.models import Tenant  # noqa: E402

ENGINE = "unix:///var/run/docker.sock"
IMAGE = sample_tag("httpd")


def ensure_image(client) -> None:
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        context = build_context("httpd", Path(os.environ.get("BERTH_DATA_DIR", "/tmp")) / "bench-httpd")
        client.images.build(path=str(context), tag=IMAGE, rm=True)


def healthy(address: str, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(address, port, timeout=2)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status < 400:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"{address}:{port} never answered")


def reached(container, network: str, *, publish: bool) -> tuple[str, int]:
    if publish:
        return "127.0.0.1", int(container.attrs["NetworkSettings"]["Ports"]["5000/tcp"][0]["HostPort"])
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"], 5000


def direct_rollout(
    client, slug: str, size: int, version: int, old: list, haproxy: HAProxy | None = None, *, publish: bool = True
) -> list:
    """The same Docker operations, sequentially, straight through the SDK; with `haproxy`, the router switch too.

    `publish`: the port published on loopback (the baseline); without, reached on the tenant network."""
    client.images.get(IMAGE)
    network = f"berth-{slug}"
    if not client.networks.list(names=[network]):
        client.networks.create(network, driver="bridge", labels={TENANT_LABEL: slug})
    new = []
    for index in range(1, size + 1):
        container = client.containers.create(
            IMAGE,
            name=f"berth-{slug}-direct-v{version}-web-{index}-{secrets.token_hex(3)}",
            environment={"PORT": "5000", "BERTH_RELEASE": f"v{version}"},
            labels={TENANT_LABEL: slug, APP_LABEL: "direct", PROCESS_LABEL: "web", INDEX_LABEL: str(index)},
            init=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            mem_limit="64m",
            memswap_limit="64m",
            nano_cpus=250_000_000,
            pids_limit=512,
            log_config=docker.types.LogConfig(type="local"),
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
            network=network,
            **({"ports": {"5000/tcp": ("127.0.0.1", None)}} if publish else {}),
        )
        container.start()
        container.reload()
        healthy(*reached(container, network, publish=publish), time.monotonic() + 60)
        new.append(container)
    if haproxy is not None:
        addresses = [reached(c, network, publish=publish) for c in new]
        route = Route(
            key=f"{slug}__direct",
            hostnames=(f"direct.{slug}.localhost",),
            upstreams=tuple(f"{address}:{port}" for address, port in addresses),
        )
        haproxy.apply([route])
    for container in old:
        container.stop(timeout=10)
        container.remove(force=True)
    return new


def berth_release(app, size: int, version: int):
    return ReleaseFactory(
        app=app,
        version=version,
        build__number=version,
        build__image=IMAGE,
        formation={"web": {"quantity": size, "memory_mb": 64, "cpu": 0.25, "healthcheck_timeout": 60}},
    )


def berth_rollout(release) -> dict[str, float]:
    """Run one rollout through the worker's entry point; return the seconds each recorded step took."""
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    if deployment.status != DeploymentStatus.SUCCEEDED:
        raise RuntimeError(f"rollout failed: {deployment.error}")
    return {
        step["name"]: (
            datetime.fromisoformat(step["finished_at"]) - datetime.fromisoformat(step["started_at"])
        ).total_seconds()
        for step in deployment.steps
    }


def direct_router_beside(berth_router: HAProxy, slug: str) -> HAProxy:
    """The direct script's own HAProxy, on its own ports and prefix: the same binary and driver as Berth's router."""
    return HAProxy(
        prefix=berth_router.prefix.parent / f"bench-router-{slug}",
        port=free_port(),
        tls_port=free_port(),
        binary=berth_router.binary,
    )


def remove_everything(client, slug: str, *, host_created: bool, direct_router: HAProxy) -> None:
    """Remove what a bench run made: the tenant's containers, network and rows, the host it added, both routers."""
    for container in client.containers.list(all=True, filters={"label": label_filter(TENANT_LABEL, slug)}):
        container.remove(force=True)
    for network in client.networks.list(names=[f"berth-{slug}"]):
        network.remove()
    Release.objects.filter(app__tenant__slug=slug).delete()
    Build.objects.filter(app__tenant__slug=slug).delete()
    Tenant.objects.filter(slug=slug).delete()
    if host_created:
        DockerHost.objects.filter(name="local").delete()
    router().stop()
    direct_router.stop()
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--routing",
        choices=["network", "port"],
        default="network",
        help="how Berth's router reaches the host's containers (network: as `make run` registers its local host)",
    )
    parser.add_argument("--scheduler", choices=["hosts", "swarm"], default="hosts", help="see bench/rollout_swarm.py")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    call_command("migrate", verbosity=0)
    if args.scheduler == "swarm":
        rows = rollout_swarm.run(
            sizes=sizes, rounds=args.rounds, berth_release=berth_release, berth_rollout=berth_rollout
        )
        print(json.dumps({"rollout_swarm": [dict(zip(("size", "berth", "direct"), r, strict=True)) for r in rows]}))
        return
    client = docker.DockerClient(base_url=ENGINE, timeout=120)
    ensure_image(client)
    slug = f"bench{secrets.token_hex(3)}"
    host_created = not DockerHost.objects.filter(name="local").exists()
    if host_created:
        DockerHost.objects.create(name="local", engine_url=ENGINE, address="127.0.0.1", routing=args.routing)
    routing_before = DockerHost.objects.filter(name="local").values_list("routing", flat=True).get()
    DockerHost.objects.filter(name="local").update(routing=args.routing)
    tenant = TenantFactory(slug=slug, max_containers=1000, max_memory_mb=1_000_000)
    berth_router = router()
    direct_router = direct_router_beside(berth_router, slug)
    rows = []
    try:
        version = 0
        for size in sizes:
            app = AppFactory(tenant=tenant, slug=f"b{size}")
            FormationFactory(app=app, process_type="web", quantity=size, memory_mb=64)
            version += 1
            berth_rollout(berth_release(app, size, version))  # the first has nothing to replace: not measured
            berth_times, direct_times, routed_times, network_times, step_times = [], [], [], [], {}
            old = direct_rollout(client, slug, size, version, [])
            for _ in range(args.rounds):
                version += 1
                release = berth_release(app, size, version)  # what the releases service hands over
                started = time.monotonic()
                for name, seconds in berth_rollout(release).items():
                    step_times.setdefault(name, []).append(seconds)
                berth_times.append(time.monotonic() - started)
                started = time.monotonic()
                old = direct_rollout(client, slug, size, version, old)
                direct_times.append(time.monotonic() - started)
                started = time.monotonic()
                old = direct_rollout(client, slug, size, version, old, haproxy=direct_router)
                routed_times.append(time.monotonic() - started)
                started = time.monotonic()
                old = direct_rollout(client, slug, size, version, old, haproxy=direct_router, publish=False)
                network_times.append(time.monotonic() - started)
            for container in old:
                container.remove(force=True)
            berth, direct = statistics.median(berth_times), statistics.median(direct_times)
            routed, network = statistics.median(routed_times), statistics.median(network_times)
            rows.append((size, berth, direct, routed, network))
            print(
                f"N={size:<3} berth {berth:6.2f} s   direct sequential {direct:6.2f} s   ratio {berth / direct:4.2f}   "
                f"direct + router switch {routed:6.2f} s   ratio {berth / routed:4.2f}   "
                f"the same, unpublished on the network {network:6.2f} s   ratio {berth / network:4.2f}"
            )
            steps = ", ".join(f"{name} {statistics.median(times):.3f}" for name, times in step_times.items())
            print(f"      Berth's recorded steps (median s): {steps}")
    finally:
        DockerHost.objects.filter(name="local").update(routing=routing_before)
        remove_everything(client, slug, host_created=host_created, direct_router=direct_router)
    print(f"\nBerth's host routes by {args.routing}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "| containers | Berth rollout (s) | direct sequential SDK (s) | Berth / direct | direct + router switch (s) "
        "| Berth / (direct + router) | direct + router, unpublished (s) | Berth / that |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, berth, direct, routed, network in rows:
        print(
            f"| {size} | {berth:.2f} | {direct:.2f} | {berth / direct:.2f} | {routed:.2f} | {berth / routed:.2f} "
            f"| {network:.2f} | {berth / network:.2f} |"
        )
    fields = ("size", "berth", "direct", "direct_router", "direct_router_unpublished")
    print(json.dumps({"routing": args.routing, "rollout": [dict(zip(fields, row, strict=True)) for row in rows]}))


if __name__ == "__main__":
    main()
