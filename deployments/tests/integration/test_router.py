"""The HAProxy router with real containers: rollouts under kept-alive and new-connection traffic without a reload, the
drain waiting for a slow request, and per-app settings (maintenance, allowlist, body limit) applied at runtime."""

import http.client
import threading
import time

import docker
import pytest

from deployments.models import Container, ContainerState, DeploymentStatus
from deployments.services.domains import domain_add, domain_remove
from deployments.services.rollouts import deployment_execute, rollout_enqueue, scale_enqueue
from deployments.services.router_settings import router_settings_update
from deployments.tasks import router_sync_run
from deployments.tests.factories import FormationFactory, UserFactory

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def deploy(release):
    return deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)


def _request(router, host, path="/release.txt", *, method="GET", body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=15)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_ten_deploys_scale_and_domains_under_kept_alive_and_new_connection_clients_fail_nothing_and_never_reload(
    hosts, router, app, make_release, traffic, tenant_slug
):
    # given
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    workers = router.workers()
    assert len(workers) == 1

    # when
    with traffic(keepalive=True) as kept, traffic(keepalive=True) as kept_too, traffic() as fresh:
        results = [deploy(make_release()) for _ in range(10)]
        FormationFactory(app=app, process_type="web", quantity=3, memory_mb=64)
        results.append(deployment_execute(deployment_id=scale_enqueue(app_id=app.pk).pk))
        domain = domain_add(app=app, hostname=f"www.{tenant_slug}.example.com", actor=UserFactory())
        router_sync_run.call()
        assert _request(router, f"www.{tenant_slug}.example.com") == (200, "v11\n")
        domain_remove(domain=domain, actor=UserFactory())
        router_sync_run.call()

    # then
    assert [d.status for d in results] == [DeploymentStatus.SUCCEEDED] * 11, [d.error for d in results]
    for loop in (kept, kept_too, fresh):
        assert loop.failed == 0, loop.failures[:5]
    assert kept.ok > 100 and kept.connections == 1, (kept.ok, kept.connections)
    assert kept_too.connections == 1
    assert fresh.ok > 50
    assert "v11" in kept.bodies and kept.bodies <= {f"v{n}" for n in range(1, 12)}
    assert router.workers() == workers
    assert router.old_workers() == set()
    assert _request(router, f"www.{tenant_slug}.example.com")[0] == 404
    assert Container.objects.filter(app=app, state=ContainerState.RUNNING).count() == 3


def test_a_slow_request_in_flight_at_the_switch_completes_and_its_container_stops_only_afterwards(
    hosts, router, app, make_release, traffic, docker_engine_url, second_docker_engine_url
):
    # given: v1 serves, and a request taking 2 s is in flight on one of its containers
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    old = list(Container.objects.filter(app=app, state=ContainerState.RUNNING).select_related("host"))
    answers = []

    def slow():
        answers.append((_request(router, f"web.{app.tenant.slug}.localhost", "/cgi-bin/slow?2"), time.time()))

    started = time.time()
    client = threading.Thread(target=slow)
    client.start()
    _wait_busy(router, f"{app.tenant.slug}__{app.slug}")

    # when
    with traffic(keepalive=True) as loop:
        deployment = deploy(make_release())
    client.join(timeout=30)

    # then: the slow answer came whole from v1, and no v1 container was signalled before it went out
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.error
    assert [answer for answer, _ in answers] == [(200, "slow v1\n")]
    answered_at = answers[0][1]
    for container in old:
        signalled = _first_stop_event(container, since=started)
        assert signalled is not None, container.host.name
        assert signalled > answered_at, (container.host.name, signalled, answered_at)
    assert loop.failed == 0, loop.failures[:5]


def test_maintenance_allowlist_and_body_limit_apply_at_runtime_and_stop_no_container(
    hosts, router, app, make_release, docker_engine_url, second_docker_engine_url, tenant_slug
):
    # given
    assert deploy(make_release()).status == DeploymentStatus.SUCCEEDED
    host = f"web.{tenant_slug}.localhost"
    running = set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("engine_id", flat=True))
    workers = router.workers()
    owner = UserFactory()

    def change(**values):
        router_settings_update(app=app, values=values, actor=owner)
        router_sync_run.call()

    # maintenance: the owner's page with 503, the containers keep running
    change(maintenance=True, maintenance_page="<h1>Back at five</h1>\n")
    assert _request(router, host) == (503, "<h1>Back at five</h1>\n")
    change(maintenance=False)
    assert _request(router, host) == (200, "v1\n")

    # allowlist: loopback is outside 203.0.113.0/24, so 403; inside once allowed
    change(allow=["203.0.113.0/24"])
    assert _request(router, host)[0] == 403
    change(allow=["203.0.113.0/24", "127.0.0.1"])
    assert _request(router, host) == (200, "v1\n")

    # body limit: 1 MB; over it 413, under it the app reads the body
    change(max_body_mb=1)
    assert _announced_body_status(router, host, 1024 * 1024 + 1) == 413
    assert _request(router, host, "/cgi-bin/upload", method="POST", body=b"x" * 1_000_000) == (200, "got 1000000\n")

    # then
    assert router.workers() == workers
    still = set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("engine_id", flat=True))
    assert still == running
    for url in (docker_engine_url, second_docker_engine_url):
        client = docker.DockerClient(base_url=url, timeout=30)
        try:
            states = {
                c.id: c.status
                for c in client.containers.list(all=True, filters={"label": f"berth.tenant={tenant_slug}"})
            }
        finally:
            client.close()
        assert set(states.values()) == {"running"}


def _wait_busy(router, key: str, timeout: float = 10) -> None:
    """Wait until HAProxy holds a request on the app's backend (its current sessions, `scur`, in `show stat`)."""
    backend = router.backend_of(key)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        header, *rows = router.show("show stat").splitlines()
        columns = header.lstrip("# ").split(",")
        for row in rows:
            values = dict(zip(columns, row.split(","), strict=False))
            if values.get("pxname") == backend and values.get("svname") == "BACKEND" and int(values["scur"] or 0):
                return
        time.sleep(0.01)
    raise AssertionError(f"no request reached backend {backend} within {timeout} s")


def _first_stop_event(container, *, since: float) -> float | None:
    """When the engine first signalled or stopped `container` (a kill, stop or die event), as a Unix time."""
    client = docker.DockerClient(base_url=container.host.engine_url, timeout=30)
    try:
        events = client.events(
            since=int(since) - 1,
            until=int(time.time()) + 1,
            decode=True,
            filters={"type": "container", "container": container.engine_id},
        )
        times = [event["timeNano"] / 1e9 for event in events if event.get("status") in ("kill", "stop", "die")]
    finally:
        client.close()
    return min(times) if times else None


def _announced_body_status(router, host: str, length: int) -> int:
    """Send a POST's headers announcing `length` bytes and return the status the router answers before the body."""
    import socket

    with socket.create_connection(("127.0.0.1", router.port), timeout=10) as sock:
        sock.sendall(f"POST /cgi-bin/upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n".encode())
        return int(sock.recv(12).decode().split()[1])
