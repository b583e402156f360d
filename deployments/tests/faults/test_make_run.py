"""`make run`'s processes with a second host: `manage.py serve` (its workers, heartbeat, reconciler and router in one
process, as `make run` starts it) with two hosts registered by `manage.py addhost`. An app scaled to 2 runs one
container on each host; the second host's engine stops; the heartbeat marks it down and the reconciler moves its
container to the first host while the app keeps answering through the router.

The hosts are the fault tests' own dockerds (the shared engines serve other suites); the portal shares the test
database, as the browser tests' portal does (deployments/tests/views/portal_server.py).
"""

import time
import urllib.request

import pytest
from django.core.management import call_command

from deployments.models import Container, ContainerState, Deployment, DeploymentStatus, DockerHost, HostStatus
from deployments.services.rollouts import rollout_enqueue
from deployments.tests.factories import web_formation
from deployments.tests.views.portal_server import start_portal

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _live(app) -> list[tuple[str, str]]:
    rows = Container.objects.filter(app=app, state=ContainerState.RUNNING).select_related("host")
    return sorted((f"{row.process_type}.{row.index}", row.host.name) for row in rows)


def _get(port: int, host: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/release.txt", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError as error:
        return 0, str(error)


def _until(check, what, server, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout} s\nserver:\n{server.output()}", pytrace=False)


def test_an_app_scaled_to_two_spreads_over_both_hosts_and_the_lost_host_moves_to_the_first(
    engines, registry_image, registry_url, app, make_release, tenant_slug, tmp_path
):
    for number, engine in enumerate(engines, start=1):
        engine.image_remove(registry_image)
        call_command("addhost", ("first", "second")[number - 1], engine.url, verbosity=0)
    server = start_portal(tmp_path / "portal", registry=registry_url)
    try:
        release = make_release(formation=web_formation(quantity=2, healthcheck_timeout=60))
        deployment = rollout_enqueue(release_id=release.pk)
        _until(
            lambda: Deployment.objects.get(pk=deployment.pk).status in (DeploymentStatus.SUCCEEDED, "failed"),
            "the rollout",
            server,
            timeout=180,
        )
        assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED
        assert _live(app) == [("web.1", "first"), ("web.2", "second")]
        hostname = f"web.{tenant_slug}.localhost"
        _until(lambda: _get(server.router_port, hostname) == (200, "v1\n"), "serving", server, timeout=60)

        # when: the second host's engine stops
        began = time.monotonic()
        engines[1].stop()
        down_at = _until(
            lambda: DockerHost.objects.get(name="second").status == HostStatus.DOWN, "second down", server, 60
        )
        moved_at = _until(lambda: _live(app) == [("web.1", "first"), ("web.2", "first")], "the move", server, 120)

        # then: both containers on the first host, and the app answers there
        answers = [_get(server.router_port, hostname) for _ in range(5)]
        assert answers == [(200, "v1\n")] * 5
        running = engines[0].client().containers.list(filters={"label": f"berth.tenant={tenant_slug}"})
        assert sorted(c.labels["berth.index"] for c in running) == ["1", "2"]
        down, moved = down_at - began, moved_at - began
        print(f"\nmake run, second host stopped: down after {down:.1f} s, moved after {moved:.1f} s")
    finally:
        server.stop()
        engines[1].start()
