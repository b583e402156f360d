"""The staff console end to end in Debian's chromium, on the real portal (`manage.py serve` with its workers and
router) and two real dockerds: staff register the second engine, drain it while an app runs there, look at what a
GC would remove, collect it and see the bytes reclaimed, and suspend and resume the app's tenant (the router answers
the notice, the containers stay).

The second engine is a dockerd of this test's own (deployments/tests/faults/engines.py), so that the real GC run takes
only garbage the test made there: on the shared engines it would also take other suites' dangling images and build
cache. The portal runs with no GC grace period, so that garbage made a moment ago is old enough to go.
"""

import io
import os
import re
import secrets
import tarfile
import time

import docker
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from deployments.models import Container, ContainerState, Deployment, DeploymentStatus, DockerHost, GcRun, HostStatus
from deployments.services.rollouts import rollout_enqueue
from deployments.services.routes import SUSPENDED_PAGE, routes_collect
from deployments.tests.factories import AppFactory, ReleaseFactory, web_formation
from deployments.tests.faults.engines import OwnEngine
from deployments.tests.views.portal_server import start_portal
from samples import sample_tag
from tenants.models import AuditEvent, Tenant
from tenants.services import tenant_create


@pytest.fixture
def browser_context_args(browser_context_args):
    """Playwright's wait_for_function evaluates its predicate as a string, which the portal's CSP (no unsafe-eval)
    refuses; the CSP itself is checked page by page in portal/tests/test_csp_browser.py."""
    return {**browser_context_args, "bypass_csp": True}


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-42"
JUNK = 3 * 1024 * 1024  # bytes of the layer only a dangling image holds: what the real GC run must reclaim
LONG = 180.0  # s: a rollout on a loaded machine


@pytest.fixture(scope="module")
def second_engine(tmp_path_factory):
    """A dockerd of this module's own (number 3: the fault tests own 1 and 2), stopped at the end."""
    engine = OwnEngine(number=3, log_dir=tmp_path_factory.mktemp("console-dockerd"))
    try:
        engine.start()
    except RuntimeError as error:
        engine.stop()
        pytest.fail(str(error), pytrace=False)
    yield engine
    engine.stop()


def _dangling_image(url: str) -> str:
    """Build `berth-console/junk:1` twice with different content on `url`; return the id of the first, now dangling."""
    client = docker.DockerClient(base_url=url, timeout=120)
    ids = []
    try:
        for _ in range(2):
            context = io.BytesIO()
            with tarfile.open(fileobj=context, mode="w") as tar:
                for name, data in (("Dockerfile", b"FROM scratch\nCOPY junk /junk\n"), ("junk", os.urandom(JUNK))):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            context.seek(0)
            image, _ = client.images.build(fileobj=context, custom_context=True, tag="berth-console/junk:1", rm=True)
            ids.append(image.id)
        assert ids[0] != ids[1]
        assert client.images.get(ids[0]).tags == []
        return ids[0]
    finally:
        client.close()


def _has_image(url: str, image_id: str) -> bool:
    client = docker.DockerClient(base_url=url, timeout=60)
    try:
        client.images.get(image_id)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


@pytest.fixture
def console(tmp_path, registry_url, docker_engine_url, second_engine, sample_image):
    """The running portal, its staff member stella, and a fresh tenant; the tenant's containers go after."""
    sample_image("httpd")
    sample_image("httpd", engine_url=second_engine.url)
    slug = f"cs{secrets.token_hex(4)}"
    get_user_model().objects.create_user(username="stella", password=PASSWORD, is_staff=True)
    owner = get_user_model().objects.create_user(username="olivia", password=PASSWORD)
    tenant_create(actor=owner, slug=slug, name="Console team")
    call_command("addhost", "local", docker_engine_url, "--builder", verbosity=0)
    server = start_portal(tmp_path / "portal", registry=registry_url, env={"BERTH_GC_GRACE_SECONDS": "0"})
    yield server, slug, second_engine.url
    server.stop()
    for url in (docker_engine_url, second_engine.url):
        client = docker.DockerClient(base_url=url, timeout=60)
        try:
            for container in client.containers.list(all=True, filters={"label": f"berth.tenant={slug}"}):
                container.remove(force=True)
            for network in client.networks.list(names=[f"berth-{slug}"]):
                network.remove()
        finally:
            client.close()


def _until(check, what: str, server, timeout: float = LONG):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    deployments = list(Deployment.objects.values_list("pk", "status", "error"))
    what = what() if callable(what) else what
    pytest.fail(f"{what} did not happen; deployments: {deployments}\nserver:\n{server.output()}", pytrace=False)


def _router(page, server, slug) -> tuple[int, str]:
    # A new connection each time: after a reload, an old HAProxy worker keeps serving a kept-alive connection with the
    # maps it had, which a runtime change (the suspension's maintenance flag) no longer reaches.
    response = page.request.get(
        f"http://127.0.0.1:{server.router_port}/release.txt",
        headers={"Host": f"web.{slug}.localhost", "Connection": "close"},
    )
    return response.status, response.text()


def _engine_ids(url: str, slug: str) -> set[str]:
    client = docker.DockerClient(base_url=url, timeout=60)
    try:
        return {c.id for c in client.containers.list(all=True, filters={"label": f"berth.tenant={slug}"})}
    finally:
        client.close()


def _live_hosts(slug) -> dict[str, int]:
    hosts: dict[str, int] = {}
    for name in Container.objects.filter(app__tenant__slug=slug, state=ContainerState.RUNNING).values_list(
        "host__name", flat=True
    ):
        hosts[name] = hosts.get(name, 0) + 1
    return hosts


def test_staff_register_drain_collect_and_suspend_from_the_console(page, console):
    server, slug, second = console
    url = server.url
    name = f"second-{slug}"
    page.set_default_timeout(30_000)
    page.goto(f"{url}/login/")
    page.fill("#id_username", "stella")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")

    # register the second engine; its page says ready
    page.goto(f"{url}/console/hosts/")
    page.fill("#id_name", name)
    page.fill("#id_engine_url", second)
    page.click("#register button[type=submit]")
    page.wait_for_url(f"{url}/console/hosts/{name}/")
    assert page.inner_text("#host-status") == "ready"
    assert DockerHost.objects.get(name=name).engine_version

    # an app runs with a container on each host
    app = AppFactory(tenant=Tenant.objects.get(slug=slug), slug="web")
    release = ReleaseFactory(
        app=app,
        version=1,
        build__image=sample_tag("httpd"),  # the image the console fixture built on both hosts
        build__number=1,
        build__process_types={},
        formation=web_formation(),
    )
    deployment = rollout_enqueue(release_id=release.pk)
    _until(lambda: Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.SUCCEEDED, "the rollout", server)
    assert _live_hosts(slug) == {"local": 1, name: 1}
    page.reload()
    assert page.locator(f"#containers tr[data-app='{slug}/web']").count() == 1

    # drain it: a confirmation page, then the app's containers move to the other host
    page.click("text=Drain this host…")
    page.wait_for_selector("#confirm")
    page.click("#confirm button:has-text('Drain')")
    page.wait_for_selector("text=rolling out on other hosts")
    assert page.inner_text("#host-status") == "draining"
    _until(lambda: _live_hosts(slug) == {"local": 2}, "the move off the drained host", server)
    page.reload()
    assert page.locator(f"#containers tr[data-app='{slug}/web']").count() == 0
    assert _router(page, server, slug) == (200, "v1\n")

    # a GC dry run lists what would go, removing nothing
    junk = _dangling_image(second)
    before_gc = _engine_ids(second, slug)
    page.click("#gc button:has-text('Dry run')")
    page.wait_for_selector("#gc-runs tr.gc-run[data-dry-run='1']")
    run = GcRun.objects.get(host__name=name)
    assert (run.dry_run, run.error) == (True, "")
    assert junk.removeprefix("sha256:")[:12] in [image["id"] for image in run.removed["images"]]
    assert run.bytes_reclaimed >= JUNK
    assert page.inner_text("#gc-runs tr.gc-run td:nth-child(5)").startswith(f"{run.bytes_reclaimed} ")
    assert _engine_ids(second, slug) == before_gc
    assert _has_image(second, junk)

    # the real run, after a confirmation naming the dry run's plan: the junk goes, the bytes are shown, the release
    # image the app runs stays
    page.click("text=Collect garbage…")
    page.wait_for_selector("#confirm")
    assert f"{run.bytes_reclaimed} bytes" in page.inner_text("#confirm")
    page.click("#confirm button:has-text('Collect garbage')")
    page.wait_for_selector("#gc-runs tr.gc-run[data-dry-run='0']")
    real = GcRun.objects.get(host__name=name, dry_run=False)
    assert real.error == ""
    assert real.bytes_reclaimed >= JUNK
    assert page.inner_text("#gc-runs tr.gc-run[data-dry-run='0'] td:nth-child(5)").startswith(
        f"{real.bytes_reclaimed} "
    )
    assert f"{real.bytes_reclaimed} bytes reclaimed" in page.inner_text("body")
    assert not _has_image(second, junk)
    assert _has_image(second, sample_tag("httpd"))

    # suspend the tenant: the slug typed; the router answers the notice, the containers stay
    running = set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("engine_id", flat=True))
    page.goto(f"{url}/console/tenants/{slug}/")
    page.fill("#id_confirm", slug)
    page.fill("#id_reason", "unpaid invoice")
    page.click("#suspension button:has-text('Suspend')")
    page.wait_for_selector("#tenant-state:has-text('suspended')")
    answers = []
    _until(
        lambda: answers.append(_router(page, server, slug)) or answers[-1][0] == 503,
        lambda: f"the suspension notice (last answer {answers[-1]}, routes {routes_collect()})",
        server,
        timeout=60,
    )
    assert _router(page, server, slug) == (503, SUSPENDED_PAGE)
    assert (
        set(Container.objects.filter(app=app, state=ContainerState.RUNNING).values_list("engine_id", flat=True))
        == running
    )

    # resume: it serves again
    page.click("#suspension button:has-text('Resume')")
    page.wait_for_selector("#tenant-state:has-text('active')")
    _until(lambda: _router(page, server, slug) == (200, "v1\n"), "serving again", server, timeout=60)

    # every action named stella once
    assert list(AuditEvent.objects.filter(actor_name="stella").order_by("id").values_list("action", flat=True)) == [
        "host.create",
        "host.drain",
        "host.gc_dry_run",
        "host.gc",
        "tenant.suspend",
        "tenant.resume",
    ]
    assert DockerHost.objects.get(name=name).status == HostStatus.DRAINING
    assert re.match(r"^\d+\.", DockerHost.objects.get(name=name).engine_version)
