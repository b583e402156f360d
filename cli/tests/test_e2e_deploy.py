"""`berth deploy` end to end: the CLI uploads a directory, the real builder builds it on dockerd, the CLI follows."""

import subprocess
import sys
import threading
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from deployments.engine import images
from deployments.models import Build, Release
from deployments.services.builds import LOCAL_ENGINE, build_execute
from samples import build_context

from .test_e2e import BERTH, create_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant_slug(settings, tmp_path, registry_url):
    """A tenant no other run uses (its images are ours alone); removes the images its builds made."""
    settings.BERTH_REGISTRY = registry_url
    settings.DATA_DIR = tmp_path / "data"
    slug = f"cli{uuid.uuid4().hex[:10]}"
    call_command("createtenant", slug, "--owner", "alice", stdout=StringIO())
    yield slug
    for build in Build.objects.filter(app__tenant__slug=slug).exclude(image=""):
        images.remove(LOCAL_ENGINE, build.image)


def _wait_for_build(slug: str) -> Build:
    event = threading.Event()
    while (build := Build.objects.filter(app__tenant__slug=slug).first()) is None:
        event.wait(0.05)
    return build


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
    build = _wait_for_build(tenant_slug)
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
