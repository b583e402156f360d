"""The terminal page in a real browser on the real portal (daphne) and dockerd: xterm.js on an exec and on a run."""

import os
import time

import docker
import pytest
from django.contrib.auth import get_user_model

from deployments.models import App, ContainerState, DockerHost, Run, RunStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.tests.factories import MembershipFactory, web_formation
from deployments.tests.integration.conftest import app, make_release, tenant_slug  # noqa: F401 (fixtures)
from deployments.tests.logs.server import Daphne
from tenants.models import Role


@pytest.fixture
def browser_context_args(browser_context_args):
    """Playwright's wait_for_function evaluates its predicate as a string, which the portal's CSP (no unsafe-eval)
    refuses; the CSP itself is checked page by page in portal/tests/test_csp_browser.py."""
    return {**browser_context_args, "bypass_csp": True}


# Playwright's sync API runs an event loop in the test thread; the ORM calls below are plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-42"
WAIT_MS = 60_000


@pytest.fixture
def portal():
    server = Daphne()
    yield server
    server.close()


@pytest.fixture
def deployed(app, make_release, sample_image, docker_engine_url):  # noqa: F811 (pytest fixture injection)
    sample_image("httpd")
    DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1")
    release = make_release(formation=web_formation(quantity=1))
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    assert deployment.status == "succeeded", deployment.error
    assert app.containers.filter(state=ContainerState.RUNNING).count() == 1
    return App.objects.get(pk=app.pk)


def _login(page, portal, role: str, target: App) -> None:
    user = MembershipFactory(tenant=target.tenant, role=role).user
    user.set_password(PASSWORD)
    user.save()
    page.goto(f"{portal.origin}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def test_exec_and_a_run_on_the_terminal_page(page, portal, deployed, docker_engine_url):
    # given a developer on the app's terminal page
    _login(page, portal, Role.DEVELOPER, deployed)
    terminal = f"{portal.origin}/t/{deployed.tenant.slug}/apps/web/terminal/"

    # when they exec `ps` in web.1
    page.goto(terminal)
    page.select_option("#exec-container", "web.1")
    page.fill("#exec-command", "ps")
    page.press("#exec-command", "Enter")

    # then xterm.js shows its processes, the app's server among them, and the exit
    page.wait_for_selector("#terminal .xterm-rows", timeout=WAIT_MS)
    page.wait_for_function(
        "document.querySelector('#terminal .xterm-rows').textContent.includes('httpd -f -p 5000')", timeout=WAIT_MS
    )
    page.wait_for_function(
        "document.getElementById('terminal-status').textContent.startsWith('ended: exit code 0')", timeout=WAIT_MS
    )

    # when they start a run that reads a line, and type one
    page.goto(terminal)
    page.fill("#run-command", "read x; echo got-$x")
    page.press("#run-command", "Enter")
    page.wait_for_function("document.getElementById('terminal-status').textContent === 'connected'", timeout=WAIT_MS)
    page.locator("#terminal").click()
    page.keyboard.type("hello")
    page.keyboard.press("Enter")

    # then the run answers, ends with 0, and its row says so
    page.wait_for_function(
        "document.querySelector('#terminal .xterm-rows').textContent.includes('got-hello')", timeout=WAIT_MS
    )
    page.wait_for_function(
        "document.getElementById('terminal-status').textContent.startsWith('ended: exit code 0')", timeout=WAIT_MS
    )
    run = Run.objects.get()
    assert (run.attach, run.status, run.exit_code, run.command) == (
        True,
        RunStatus.SUCCEEDED,
        0,
        ["sh", "-c", "read x; echo got-$x"],
    )


def test_leaving_the_page_stops_the_run_and_a_viewer_has_no_terminal(page, portal, deployed, docker_engine_url):
    # given a developer's run on the page, left running
    _login(page, portal, Role.DEVELOPER, deployed)
    terminal = f"{portal.origin}/t/{deployed.tenant.slug}/apps/web/terminal/"
    page.goto(terminal)
    page.fill("#run-command", "sleep 600")
    page.press("#run-command", "Enter")
    page.wait_for_function("document.getElementById('terminal-status').textContent === 'connected'", timeout=WAIT_MS)
    engine_id = Run.objects.get().engine_id

    # when they leave the page
    page.goto(f"{portal.origin}/t/{deployed.tenant.slug}/apps/web/")

    # then the run's container goes away
    engine = docker.DockerClient(base_url=docker_engine_url)
    try:
        deadline = time.monotonic() + 120
        while engine.containers.list(all=True, filters={"id": engine_id}):
            assert time.monotonic() < deadline, "the run's container outlived its page"
            time.sleep(0.2)
    finally:
        engine.close()
    assert Run.objects.get().status == RunStatus.FAILED

    # and a viewer finds no terminal page and no link to it
    page.context.clear_cookies()
    _login(page, portal, Role.VIEWER, deployed)
    page.goto(f"{portal.origin}/t/{deployed.tenant.slug}/apps/web/")
    assert page.locator("text=Terminal").count() == 0
    assert page.goto(terminal).status == 404
    assert get_user_model().objects.count() == 2
