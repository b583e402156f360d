"""The customer portal end to end in Debian's chromium: the real portal (`manage.py serve` with its task workers,
log collector and router), the real dockerd and registry. A team deploys the sample app from the browser and works
with it the way a customer does."""

import contextlib
import os
import re
import secrets
import time
from pathlib import Path

import docker
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from deployments.models import App, Build, BuildStatus, ConfigVar, Deployment, Formation
from deployments.tests.views.portal_server import start_portal
from samples import context_tarball
from tenants.models import ApiToken
from tenants.services import tenant_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

CANARY = "canary-e2e-3b9f0d77"
PASSWORD = "correct-horse-42"
LONG = 180_000  # ms: a build and a rollout on a loaded machine


@pytest.fixture
def portal(tmp_path, registry_url, docker_engine_url, sample_image):
    """The running portal, its owner olivia of a fresh team, and the team's slug; the team's containers go after."""
    slug = f"pw{secrets.token_hex(4)}"
    owner = get_user_model().objects.create_user(username="olivia", password=PASSWORD)
    tenant_create(actor=owner, slug=slug, name="Playwright team")
    call_command("addhost", "local", docker_engine_url, "--builder", verbosity=0)
    server = start_portal(tmp_path / "portal", registry=registry_url)
    yield server, slug
    server.stop()
    client = docker.DockerClient(base_url=docker_engine_url, timeout=60)
    try:
        for container in client.containers.list(all=True, filters={"label": f"berth.tenant={slug}"}):
            container.remove(force=True)
        for network in client.networks.list(names=[f"berth-{slug}"]):
            network.remove()
        for build in Build.objects.filter(app__tenant__slug=slug).exclude(image=""):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(build.image, force=True)
    finally:
        client.close()


def _login(page, url, username="olivia"):
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def _router_text(page, server, slug, path="/") -> str:
    page.goto(f"http://web.{slug}.localhost:{server.router_port}{path}")
    return page.inner_text("body")


def _wait_router(page, server, slug, pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = _router_text(page, server, slug)
        except Exception as error:  # the router answers 502/503 while the route moves
            text = str(error)
        if re.search(pattern, text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"the router never served {pattern!r}; last answer: {text[:300]}")


def _wait(page, selector, server, slug, timeout=LONG):
    """Wait for `selector`; on a timeout, fail with the deployments' states and the server's output."""
    try:
        page.wait_for_selector(selector, timeout=timeout)
    except Exception as error:
        deployments = [
            (d.pk, d.release.version, d.status, d.error, [step["name"] for step in d.steps])
            for d in Deployment.objects.filter(app__tenant__slug=slug).select_related("release").order_by("id")
        ]
        pytest.fail(
            f"{selector} did not show: {error}\ndeployments: {deployments}\npage: {page.inner_text('main')[:2000]}\n"
            f"server:\n{server.output()}",
            pytrace=False,
        )


def test_a_team_deploys_from_the_browser_and_works_with_the_app(page, portal, tmp_path):
    server, slug = portal
    url = server.url
    page.set_default_timeout(30_000)
    _login(page, url)

    # create an app
    page.goto(f"{url}/t/{slug}/")
    page.fill("#new-app", "web")
    page.click("text=Create app")
    page.wait_for_url(f"{url}/t/{slug}/apps/web/")

    # a secret is masked in the page source
    page.fill("#config-key", "API_KEY")
    page.fill("#config-value", CANARY)
    page.check("#config-form input[name=secret]")
    page.click("#config-form button:has-text('Set')")
    page.wait_for_selector("text=added API_KEY")
    assert CANARY not in page.content()
    assert ConfigVar.objects.get(app__tenant__slug=slug, key="API_KEY").secret is True

    # upload the sample app's archive; the build page fills in live, then the rollout's steps
    archive = tmp_path / "httpd.tar.gz"
    archive.write_bytes(context_tarball("httpd"))
    page.set_input_files("#deploy-source", str(archive))
    page.click("button:has-text('Upload and deploy')")
    page.wait_for_url(re.compile(r".*/builds/1/$"))
    assert page.locator("#build-log[data-build-ws]").count() == 1  # served empty: the lines come over the socket
    page.wait_for_selector("#build-log .log-line", timeout=LONG)
    page.wait_for_selector("#build-status.succeeded", timeout=LONG)
    assert "Built " in page.inner_text("#build-log pre")
    page.wait_for_selector("#build-summary dl.facts", timeout=30_000)
    assert re.search(r"Layers\s+\d+", page.inner_text("#build-summary"))
    _wait(page, "#build-summary .deployment-status.succeeded", server, slug)
    steps = page.inner_text("#build-summary ol.steps")
    assert "succeeded" in steps and len(page.locator("#build-summary ol.steps li").all()) >= 2
    assert Build.objects.get(app__tenant__slug=slug, number=1).status == BuildStatus.SUCCEEDED

    # the app answers through the router
    assert "berth sample httpd" in _wait_router(page, server, slug, r"release: v\d+")

    # live log lines arrive while the page is open: scaling to 2 starts web.2, which prints its start line
    logs = page.context.new_page()
    logs.goto(f"{url}/t/{slug}/apps/web/logs/")
    logs.wait_for_selector("#log-status:has-text('live')")
    page.goto(f"{url}/t/{slug}/apps/web/")
    page.fill("input[name=quantity]", "2")
    page.click("button:has-text('Scale')")
    page.wait_for_selector("text=Scaled web to 2.")
    logs.wait_for_selector("#log .log-line:has-text('web.2')", timeout=LONG)
    assert Formation.objects.get(app__tenant__slug=slug, process_type="web").quantity == 2

    # search older lines, then download a range as text
    logs.fill("#id_q", "listening")
    logs.click("#log-search button:has-text('Search')")
    logs.wait_for_selector("#history .log-line")
    assert "listening on port" in logs.inner_text("#history")
    with logs.expect_download() as download_info:
        logs.click("#log-download")
    text = Path(download_info.value.path()).read_text()
    assert "listening on port" in text
    assert all(" web." in line for line in text.splitlines())

    # scale: two web containers run
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page.goto(f"{url}/t/{slug}/apps/web/")
        if page.locator("#containers .badge.running").count() == 2:
            break
        time.sleep(1)
    assert page.locator("#containers .badge.running").count() == 2

    # a config change rolls out; rolling back to the deployed build's release brings the old greeting back
    page.fill("#config-key", "GREETING")
    page.fill("#config-value", "bonjour")
    page.click("#config-form button:has-text('Set')")
    _wait_router(page, server, slug, r"greeting: bonjour", timeout=LONG / 1000)
    page.goto(f"{url}/t/{slug}/apps/web/")
    build_release = App.objects.get(tenant__slug=slug, slug="web").releases.get(
        build__number=1, summary__contains="deployed"
    )
    page.click(f"button:has-text('Roll back to v{build_release.version}')")
    page.wait_for_selector("text=rolled back", timeout=30_000)
    assert "greeting: hello" in _wait_router(page, server, slug, r"greeting: hello", timeout=LONG / 1000)

    # a token, shown once
    page.goto(f"{url}/account/tokens/")
    page.fill("#id_name", "ci")
    page.check("input[value=deploy]")
    page.click("button:has-text('Create token')")
    token = page.inner_text("#new-token")
    assert token.startswith("brt_")
    page.reload()
    assert token not in page.content()
    assert ApiToken.objects.get(name="ci").prefix in page.inner_text("#tokens")
