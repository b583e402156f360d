"""`berth deploy` end to end: the CLI uploads a directory, the real builder builds it on dockerd, the CLI follows."""

import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from io import StringIO

import docker
import pytest
from django.conf import settings
from django.core.management import call_command

from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE
from deployments.engine.labels import TENANT_LABEL, label_filter
from deployments.models import Build, Deployment, Release
from deployments.services.builds import build_execute
from deployments.services.rollouts import deployment_execute
from deployments.tests.integration.conftest import router  # noqa: F401 (a fixture: nginx on a free port)
from samples import build_context

from .test_e2e import BERTH, create_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant_slug(settings, tmp_path, registry_url, docker_engine_url):
    """A tenant no other run uses; afterwards removes its images, containers and network from the engine."""
    settings.BERTH_REGISTRY = registry_url
    settings.DATA_DIR = tmp_path / "data"
    slug = f"cli{uuid.uuid4().hex[:10]}"
    call_command("createtenant", slug, "--owner", "alice", stdout=StringIO())
    yield slug
    client = docker.DockerClient(base_url=docker_engine_url, timeout=60)
    try:
        for container in client.containers.list(all=True, filters={"label": label_filter(TENANT_LABEL, slug)}):
            container.remove(force=True)
        for network in client.networks.list(names=[f"berth-{slug}"]):
            network.remove()
    finally:
        client.close()
    for build in Build.objects.filter(app__tenant__slug=slug).exclude(image=""):
        images.remove(LOCAL_ENGINE, build.image)


def berth(env: dict, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(BERTH), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def _wait_for(query, cli: subprocess.Popen, timeout: float = 120):
    """Return what `query` finds once it finds something; fail with the CLI's output if it exits or times out first."""
    event = threading.Event()
    deadline = time.monotonic() + timeout
    while (found := query()) is None:
        if cli.poll() is not None:
            out, err = cli.communicate()
            pytest.fail(f"berth exited with {cli.returncode} first:\n{out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"nothing found within {timeout} s while berth ran")
        event.wait(0.05)
    return found


def _wait_for_build(slug: str, cli: subprocess.Popen) -> Build:
    return _wait_for(lambda: Build.objects.filter(app__tenant__slug=slug).first(), cli)


@pytest.mark.docker
def test_deploy_uploads_the_directory_and_follows_the_build_to_its_release(live_server, tenant_slug, tmp_path):
    token = create_token("alice", "read,write,deploy")
    context = build_context("httpd", tmp_path / "httpd")
    (context / ".git").mkdir()
    (context / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    env = {"BERTH_URL": live_server.url, "BERTH_TOKEN": token, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(BERTH), "deploy", str(context), "-t", tenant_slug, "-a", "web", "--interval", "0.2"]
    created = subprocess.run(
        [sys.executable, str(BERTH), "apps:create", "web", "-t", tenant_slug], env=env, check=False
    )
    assert created.returncode == 0

    # when: the CLI uploads and polls while the builder (here, this test) runs the build
    cli = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    build = _wait_for_build(tenant_slug, cli)
    build_execute(build_id=build.pk)
    out, err = cli.communicate(timeout=300)

    # then
    build.refresh_from_db()
    assert cli.returncode == 0, err
    assert build.status == "succeeded"
    release = Release.objects.get(build=build)
    assert out.endswith(f"Build 1 succeeded; released v{release.version}. Image {build.image}\n")
    assert out.startswith(build.log)
    assert "Uploading" in err
    assert build.source_kind == "tarball"
    assert "Context: 5 entries" in build.log  # busybox, Dockerfile, Procfile, start.sh, www/index.html: no .git
    listed = subprocess.run(
        [sys.executable, str(BERTH), "builds", "-t", tenant_slug, "-a", "web"], env=env, capture_output=True, text=True
    )
    assert listed.stdout.splitlines()[1].split()[:3] == ["1", "succeeded", "tarball"]


@pytest.mark.docker
def test_deploy_wait_rolls_the_release_out_and_the_app_answers_through_the_router(
    live_server,
    tenant_slug,
    tmp_path,
    router,  # noqa: F811 (pytest fixture injection)
    docker_engine_url,
):
    call_command("addhost", "local", docker_engine_url, "--builder", stdout=StringIO())
    env = {"BERTH_URL": live_server.url, "BERTH_TOKEN": create_token("alice", "read,write,deploy"), "PATH": "/bin"}
    assert berth(env, "apps:create", "web", "-t", tenant_slug).returncode == 0
    context = build_context("httpd", tmp_path / "httpd")
    argv = [sys.executable, str(BERTH), "deploy", str(context), "-t", tenant_slug, "-a", "web", "--wait"]

    # when: the CLI deploys and waits, while the worker's jobs (here, this test) build and roll out
    cli = subprocess.Popen(
        [*argv, "--interval", "0.2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    build_execute(build_id=_wait_for_build(tenant_slug, cli).pk)
    release = _wait_for(lambda: Release.objects.filter(app__tenant__slug=tenant_slug, build__isnull=False).first(), cli)
    deployment = _wait_for(lambda: Deployment.objects.filter(release=release, status="pending").first(), cli)
    deployment_execute(deployment_id=deployment.pk)
    out, err = cli.communicate(timeout=300)

    # then: the CLI saw the release succeed, ps lists the container, and the router serves the app
    ps = berth(env, "ps", "-t", tenant_slug, "-a", "web", "--json")
    assert cli.returncode == 0, err
    assert out.endswith(f"Build 1 succeeded; released v{release.version}. Image {release.build.image}\n")
    assert err.endswith(f"Release v{release.version}: succeeded\n")
    assert [(c["process_type"], c["index"], c["state"], c["release"]) for c in json.loads(ps.stdout)] == [
        ("web", 1, "running", release.version)
    ]
    connection = http.client.HTTPConnection("127.0.0.1", settings.BERTH_ROUTER_PORT, timeout=10)
    connection.request("GET", "/", headers={"Host": f"web.{tenant_slug}.localhost"})
    assert connection.getresponse().status == 200
