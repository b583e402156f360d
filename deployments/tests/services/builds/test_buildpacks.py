"""Buildpack builds (no Dockerfile) on the real dockerd and registry, on the busybox test stack."""

import io
import tarfile

import pytest

from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE
from deployments.models import Release, Stack
from deployments.services.buildcache import cache_clear, cache_path
from deployments.services.builds import build_create
from deployments.tests.factories import ConfigVarFactory
from deployments.tests.services.builds.gitrepos import git, repository
from deployments.tests.services.builds.test_core import run, tarball

pytestmark = [pytest.mark.django_db, pytest.mark.docker]

SITE = {"index.html": b"<h1>static site</h1>\n", "about/index.html": b"about\n"}
CANARY = "canary-5e1f9a7c-never-in-a-build"


@pytest.fixture
def stack(sample_image, db):
    """The busybox test stack (samples/stack-busybox), default for every app."""
    image = sample_image("stack-busybox")
    return Stack.objects.create(name="busybox", build_image=image, run_image=image, is_default=True)


def buildpack_repository(path, compile_script: bytes, detect: bytes = b"#!/bin/sh\necho Custom\n"):
    """A git repository of a buildpack whose bin/compile is `compile_script`; return its file:// URL."""
    files = {"bin/detect": detect, "bin/compile": compile_script, "bin/release": b"#!/bin/sh\necho '--- {}'\n"}
    repository(path, files)
    for name in files:
        (path / name).chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "executable")
    return f"file://{path}"


def test_a_static_site_is_built_by_the_static_buildpack_onto_the_run_image(app, developer, builder, stack):
    build = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))

    assert build.status == "succeeded", build.log
    assert (build.buildpack, build.stack) == ("static", "busybox")
    assert "-----> Static site app detected (buildpack static)" in build.log
    assert build.process_types == {"web": "/bin/sh -c 'exec httpd -f -p \"${PORT:-5000}\" -h /app'"}
    run_layers = len(images.inspect(LOCAL_ENGINE, stack.run_image)["RootFS"]["Layers"])
    assert build.layers == run_layers + 1  # the compiled app is one layer on the run image
    assert Release.objects.filter(build=build).count() == 1
    assert not images.exists(LOCAL_ENGINE, f"{build.image}-compile")


def test_the_cache_is_kept_between_builds_and_cleared_on_request(app, developer, builder, stack):
    first = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))
    assert "Cache reused" not in first.log
    assert cache_path(app=app).is_file()

    second = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))
    assert second.status == "succeeded"
    assert "-----> Cache reused: written by the static buildpack at " in second.log

    freed = cache_clear(app=app, actor=developer)
    third = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))
    assert freed > 0
    assert third.status == "succeeded"
    assert "Cache reused" not in third.log


def test_no_buildpack_detecting_the_app_fails_with_what_was_tried(app, developer, builder, stack):
    build = run(build_create(app=app, actor=developer, archive_file=tarball({"README": b"nothing\n"}, busybox=False)))

    assert build.status == "failed"
    assert build.error == "no buildpack detected this app; tried: python, static, procfile"
    assert Release.objects.filter(app=app).count() == 0


def test_a_compile_that_exits_non_zero_fails_the_build(app, developer, builder, stack, tmp_path):
    url = buildpack_repository(tmp_path / "bp", b"#!/bin/sh\necho 'compiling...'\nexit 3\n")
    ConfigVarFactory(app=app, key="BUILDPACK_URL", value=url)

    build = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))

    assert build.status == "failed"
    assert build.error == (
        "bin/compile of the buildpack custom failed "
        "(builds have no network here: a buildpack must bring what it installs)"
    )
    assert "compiling..." in build.log
    assert Release.objects.filter(app=app).count() == 0


def test_a_buildpack_url_that_does_not_clone_fails_the_build(app, developer, builder, stack, tmp_path):
    ConfigVarFactory(app=app, key="BUILDPACK_URL", value=f"file://{tmp_path}/missing")

    build = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))

    assert build.status == "failed"
    assert build.error.startswith(f"the buildpack file://{tmp_path}/missing could not be cloned: ")
    assert Release.objects.filter(app=app).count() == 0


def test_a_buildpack_reaching_the_network_fails_clearly_when_it_is_off(app, developer, builder, stack, tmp_path):
    compile_script = b"#!/bin/sh\nset -e\nwget -O /dev/null http://192.0.2.1/package.tar.gz\n"
    ConfigVarFactory(app=app, key="BUILDPACK_URL", value=buildpack_repository(tmp_path / "bp", compile_script))

    build = run(build_create(app=app, actor=developer, archive_file=tarball(SITE, busybox=False)))

    assert build.status == "failed"
    assert "wget: can't connect to remote host (192.0.2.1): Network is unreachable" in build.log, build.log
    assert build.error.endswith("(builds have no network here: a buildpack must bring what it installs)")


def test_a_secret_never_reaches_the_build_nor_the_image(app, developer, builder, stack, tmp_path):
    # given: a secret canary, a plain var the app names as build-time, and one it does not
    ConfigVarFactory(app=app, key="CANARY", value=CANARY, secret=True)
    ConfigVarFactory(app=app, key="GREETING", value="hello-build")
    ConfigVarFactory(app=app, key="RUNTIME_ONLY", value="runtime-only-value")
    ConfigVarFactory(app=app, key="BUILD_ENV", value="GREETING,CANARY")
    compile_script = (
        b"#!/bin/sh\nset -e\necho '== env'; env\necho '== ENV_DIR'; ls \"$3\"; cat \"$3\"/*; echo\n"
        b'env > "$1/env-at-build.txt"\n'
    )
    url = buildpack_repository(tmp_path / "bp", compile_script)
    ConfigVarFactory(app=app, key="BUILDPACK_URL", value=url)

    files = {**SITE, "Procfile": b"web: httpd -f -p 5000 -h /app\n"}
    build = run(build_create(app=app, actor=developer, archive_file=tarball(files, busybox=False)))

    assert build.status == "succeeded", build.log
    assert "hello-build" in build.log  # ENV_DIR carries the named plain var
    assert "runtime-only-value" not in build.log
    assert CANARY not in build.log
    history = images.history(LOCAL_ENGINE, build.image)
    assert CANARY not in repr(history)
    assert CANARY not in repr(images.inspect(LOCAL_ENGINE, build.image))
    saved = b"".join(images.export(LOCAL_ENGINE, build.image))
    layers = _layer_texts(saved)
    assert layers and not any(CANARY.encode() in text for text in layers)
    # the compiled app is in the image: the env the compile step saw, without the canary
    assert any(text.startswith(b"HOSTNAME=") for text in layers)


def _layer_texts(saved: bytes) -> list[bytes]:
    """Every file of every layer of a `docker save` archive, uncompressed."""
    found = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        for member in outer:
            if (member.isfile() and member.name.endswith((".tar", "layer.tar"))) or "/blobs/" in member.name:
                data = outer.extractfile(member).read()
                try:
                    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                        found.extend(layer.extractfile(item).read() for item in layer if item.isfile())
                except tarfile.TarError:
                    found.append(data)
    return found
