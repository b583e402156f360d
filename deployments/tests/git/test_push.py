"""`git push` end to end on the real dockerd and registry: the push builds, releases, and tells the pusher."""

import http.client
import subprocess
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from cli.tests.test_e2e_deploy import _wait_for, tenant_slug  # noqa: F401 (a fixture: a fresh tenant, cleaned)
from deployments.models import App, Build, Deployment, Release, Stack
from deployments.services.builds import build_execute
from deployments.services.gitrepos import repository_path
from deployments.services.rollouts import deployment_execute
from deployments.tests.git.pushing import GIT_ENV, git, push, remote_lines, remote_url, working_copy
from deployments.tests.integration.conftest import router  # noqa: F401 (a fixture: HAProxy on free ports)
from deployments.tests.services.builds.wheels import make_wheel
from samples import build_context
from tenants.models import Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.docker]


@pytest.fixture
def slug(tenant_slug):  # noqa: F811 (the imported fixture, asked for by name)
    """A tenant no other run uses (images, containers and network removed afterwards), with the app web."""
    App.objects.create(tenant=Tenant.objects.get(slug=tenant_slug), slug="web")
    return tenant_slug


def _token(scopes: str = "read,write,deploy") -> str:
    out = StringIO()
    call_command("createtoken", "alice", "--scopes", scopes, stdout=out)
    return out.getvalue().strip()


def _start_push(cwd, url) -> subprocess.Popen:
    return subprocess.Popen(
        # The test server (WSGI) takes no chunked request body: git sends the pack in one piece below this size.
        ["git", "-c", "http.postBuffer=524288000", "push", url, "main"],
        cwd=cwd,
        env=GIT_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _push_and_deploy(source, url, slug):
    """Push `source` while this test runs the worker's jobs (the build, the rollout); return what the push saw."""
    pusher = _start_push(source, url)
    build = _wait_for(lambda: Build.objects.filter(app__tenant__slug=slug).first(), pusher)
    build_execute(build_id=build.pk)
    release = _wait_for(lambda: Release.objects.filter(build=build).first(), pusher)
    deployment = _wait_for(lambda: Deployment.objects.filter(release=release, status="pending").first(), pusher)
    deployment_execute(deployment_id=deployment.pk)
    _, err = pusher.communicate(timeout=300)
    build.refresh_from_db()
    return pusher, build, release, err


def _get_through_router(slug: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", settings.BERTH_ROUTER_PORT, timeout=10)
    connection.request("GET", "/", headers={"Host": f"web.{slug}.localhost"})
    response = connection.getresponse()
    return response.status, response.read()


def test_a_static_site_push_builds_with_the_buildpack_releases_and_serves_while_the_pusher_reads_the_log(
    live_server,
    sample_image,
    slug,
    tmp_path,
    router,  # noqa: F811 (pytest fixture injection)
    docker_engine_url,
):
    call_command("addhost", "local", docker_engine_url, "--builder", stdout=StringIO())
    image = sample_image("stack-busybox")
    Stack.objects.create(name="busybox", build_image=image, run_image=image, is_default=True)
    source = tmp_path / "site"
    source.mkdir()
    (source / "index.html").write_text("<h1>pushed with git</h1>\n")
    working_copy(source)
    url = remote_url(live_server.url, slug, "web", _token())

    # when: the push waits on its build and release, which the worker's jobs (here, this test) run
    pusher, build, release, err = _push_and_deploy(source, url, slug)

    # then: git succeeded, the pusher saw the build log and the release, and the router serves the app
    commit = git("rev-parse", "HEAD", cwd=source).stdout.strip()
    lines = remote_lines(err)
    assert pusher.returncode == 0, err
    assert (build.status, build.buildpack, build.stack) == ("succeeded", "static", "busybox")
    assert "-----> Static site app detected (buildpack static)" in lines
    assert build.source["push"] == {"commit": commit, "ref": "refs/heads/main"}
    assert lines[0] == f"Building web (build 1) from {commit[:12]}"
    assert f"Pushed commit {commit} to main" in lines
    assert [line for line in build.log.splitlines() if line] == [line for line in lines[1:-2] if line]
    assert lines[-2:] == [
        f"Released v{release.version} (build 1, {build.image})",
        f"Release v{release.version}: succeeded",
    ]
    assert " main -> main" in err
    pushed = git("--git-dir", str(repository_path(tenant_slug=slug, app_slug="web")), "rev-parse", "main", cwd=source)
    assert pushed.stdout.strip() == commit
    assert _get_through_router(slug) == (200, b"<h1>pushed with git</h1>\n")


def test_a_push_whose_build_fails_exits_non_zero_with_the_reason_and_keeps_the_ref(live_server, slug, tmp_path):
    source = build_context("httpd", tmp_path / "broken")
    (source / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n')
    working_copy(source)
    url = remote_url(live_server.url, slug, "web", _token())

    pusher = _start_push(source, url)
    build = _wait_for(lambda: Build.objects.filter(app__tenant__slug=slug).first(), pusher)
    build_execute(build_id=build.pk)
    _, err = pusher.communicate(timeout=300)

    build.refresh_from_db()
    assert pusher.returncode == 1
    assert build.status == "failed"
    assert remote_lines(err)[-1] == f"Build 1 failed: {build.error}"
    assert "returned a non-zero code: 1" in build.error
    assert "[remote rejected] main -> main (pre-receive hook declined)" in err
    assert Release.objects.filter(app__tenant__slug=slug).count() == 0
    # the repository took no ref: a failed deploy leaves main where it was
    refs = git("--git-dir", str(repository_path(tenant_slug=slug, app_slug="web")), "show-ref", cwd=source, check=False)
    assert refs.stdout == ""


def test_a_push_whose_tree_is_over_the_context_limit_is_a_failed_build_with_the_reason(
    live_server, slug, tmp_path, settings
):
    settings.BERTH_BUILD_MAX_CONTEXT_MB = 1
    source = build_context("httpd", tmp_path / "big")  # busybox alone is about 2 MB
    working_copy(source)

    result = push(source, remote_url(live_server.url, slug, "web", _token()))

    build = Build.objects.get(app__tenant__slug=slug)
    assert result.returncode == 1
    assert (build.status, build.error) == ("failed", "the archive is larger than the 1 MB a build context may be")
    assert remote_lines(result.stderr)[-1] == f"Build 1 failed: {build.error}"
    assert Release.objects.filter(app__tenant__slug=slug).count() == 0


APP_PY = """\
import http.server
import os

import greeting


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = greeting.MESSAGE.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


def test_a_python_app_is_built_on_the_debian_stack_from_its_wheels_and_served_through_the_router(
    live_server,
    debian_stack,
    slug,
    tmp_path,
    router,  # noqa: F811 (pytest fixture injection)
    docker_engine_url,
):
    call_command("addhost", "local", docker_engine_url, "--builder", stdout=StringIO())
    Stack.objects.create(name="bookworm", build_image=debian_stack, run_image=debian_stack, is_default=True)
    source = tmp_path / "py"
    make_wheel(source / "wheels", "greeting", "1.0", 'MESSAGE = "hello from a wheel"\n')
    (source / "requirements.txt").write_text("greeting==1.0\n")
    (source / "app.py").write_text(APP_PY)
    working_copy(source)

    pusher, build, _, err = _push_and_deploy(source, remote_url(live_server.url, slug, "web", _token()), slug)

    lines = remote_lines(err)
    assert pusher.returncode == 0, err
    assert (build.status, build.buildpack, build.stack) == ("succeeded", "python", "bookworm")
    assert "-----> Python app detected (buildpack python)" in lines
    assert any(line.startswith("Successfully installed greeting-1.0") for line in lines), lines
    assert build.process_types == {"web": "python app.py"}
    assert _get_through_router(slug) == (200, b"hello from a wheel")
