"""Builds against the real dockerd, the real registry and a second dockerd that only gets images by pulling."""

import io
import tarfile
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deployments import crypto
from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE, EngineSpec
from deployments.engine.labels import TENANT_LABEL
from deployments.models import Build, BuildStatus, Release
from deployments.services.builds import build_create, build_execute
from deployments.tests.factories import ConfigVarFactory
from deployments.tests.services.builds.gitrepos import repository, sample_repository
from deployments.tests.services.builds.tarballs import as_bytes, member
from portal.errors import ApplicationError
from samples import BUSYBOX, context_tarball

pytestmark = [pytest.mark.django_db]

BUSYBOX_STEPS = b'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'


def tarball(files: dict[str, bytes], *, busybox: bool = True) -> SimpleUploadedFile:
    members = [member(name, data, mode=0o755) for name, data in files.items()]
    if busybox:
        members.append(member("busybox", BUSYBOX.read_bytes(), mode=0o755))
    return SimpleUploadedFile("source.tar.gz", as_bytes(members), content_type="application/gzip")


def run(build: Build) -> Build:
    build_execute(build_id=build.pk)
    build.refresh_from_db()
    return build


@pytest.mark.docker
def test_a_tarball_build_is_pushed_released_and_runs_on_another_host(
    app, developer, builder, registry_url, second_docker_engine_url
):
    # given
    upload = SimpleUploadedFile("httpd.tar.gz", context_tarball("httpd"))

    # when
    build = run(build_create(app=app, actor=developer, archive_file=upload))

    # then: the build succeeded, its image is in the registry under the tenant and app, and a release uses it
    assert build.status == BuildStatus.SUCCEEDED, build.log
    assert build.image == f"{registry_url}/{app.tenant.slug}/web:1"
    assert build.digest.startswith("sha256:")
    info = images.inspect(LOCAL_ENGINE, build.image)
    assert f"{registry_url}/{app.tenant.slug}/web@{build.digest}" in info["RepoDigests"]
    assert build.size_bytes == info["Size"]
    assert build.layers == len(info["RootFS"]["Layers"]) == 5
    assert build.process_types == {"web": "/bin/sh /app/start.sh"}
    assert build.warnings == []
    assert "Successfully built" in build.log
    assert f"Pushing {build.image}" in build.log
    assert build.error == ""
    assert list(Release.objects.filter(app=app).values_list("version", "build_id")) == [(1, build.pk)]
    # and the second host, which shares nothing with the builder, pulls it from the registry and runs it
    second = EngineSpec(name="second", url=second_docker_engine_url)
    builder.append(second)
    images.remove(second, build.image)
    images.pull(second, reference=f"{registry_url}/{app.tenant.slug}/web@{build.digest}")
    images.tag(
        second,
        image=f"{registry_url}/{app.tenant.slug}/web@{build.digest}",
        repository=f"{registry_url}/{app.tenant.slug}/web",
        tag="1",
    )
    output = images.run_once(
        second,
        image=build.image,
        command=["/bin/sh", "-c", "cat /app/Procfile && httpd --help 2>&1 | head -1"],
        name=f"{app.tenant.slug}-run",
        labels={TENANT_LABEL: app.tenant.slug},
    )
    assert output.splitlines()[0] == "web: /bin/sh /app/start.sh"
    assert output.splitlines()[1].startswith("BusyBox v")


@pytest.mark.docker
def test_a_git_build_from_a_file_url_is_pushed_and_released(app, developer, builder, registry_url, tmp_path):
    # given
    repo = sample_repository("worker", tmp_path / "worker-repo")

    # when
    build = run(build_create(app=app, actor=developer, git_url=f"file://{repo}", git_ref="main"))

    # then
    assert build.status == BuildStatus.SUCCEEDED, build.log
    assert f"Cloning file://{repo} at main" in build.log
    assert build.image == f"{registry_url}/{app.tenant.slug}/web:1"
    assert build.digest.startswith("sha256:")
    assert build.process_types == {"worker": "/bin/sh /app/worker.sh"}
    assert Release.objects.filter(app=app, build=build).count() == 1


@pytest.mark.docker
def test_an_image_reference_is_retagged_pushed_and_its_labels_give_the_process_types(
    app, developer, builder, registry_url, sample_image
):
    # given: an image that declares its processes in labels
    labelled = run(
        build_create(
            app=app,
            actor=developer,
            archive_file=tarball({"Dockerfile": BUSYBOX_STEPS + b'LABEL berth.process.web="httpd -f -p 5000"\n'}),
        )
    )
    assert labelled.status == BuildStatus.SUCCEEDED, labelled.log

    # when
    build = run(build_create(app=app, actor=developer, image=labelled.image))

    # then
    assert build.status == BuildStatus.SUCCEEDED, build.log
    assert build.image == f"{registry_url}/{app.tenant.slug}/web:2"
    assert build.digest == labelled.digest
    assert build.process_types == {"web": "httpd -f -p 5000"}
    assert list(Release.objects.filter(app=app).values_list("version", "build__number")) == [(2, 2), (1, 1)]


@pytest.mark.docker
def test_a_secret_config_var_never_reaches_the_image(app, developer, builder, tmp_path):
    # given: a secret and a plain var set on the app, and a marker deliberately shipped in the source as a control
    canary = f"canary-{uuid.uuid4().hex}"
    control = f"control-{uuid.uuid4().hex}"
    ConfigVarFactory(app=app, key="DATABASE_PASSWORD", value=crypto.encrypt(canary), secret=True)
    ConfigVarFactory(app=app, key="GREETING", value="plain-value")
    dockerfile = BUSYBOX_STEPS + b"ARG DATABASE_PASSWORD\nCOPY control.txt /control.txt\nRUN env > /build-env.txt\n"

    # when
    build = run(
        build_create(
            app=app, actor=developer, archive_file=tarball({"Dockerfile": dockerfile, "control.txt": control.encode()})
        )
    )

    # then: the canary is in no history step, no inspect field and no layer; the control proves the search works
    assert build.status == BuildStatus.SUCCEEDED, build.log
    history = repr(images.history(LOCAL_ENGINE, build.image))
    inspected = repr(images.inspect(LOCAL_ENGINE, build.image))
    saved = b"".join(images.export(LOCAL_ENGINE, build.image))
    layers = _layer_bytes(saved)
    assert canary not in history
    assert canary not in inspected
    assert canary.encode() not in saved
    assert canary.encode() not in layers
    assert b"plain-value" not in layers
    assert canary not in build.log
    assert control.encode() in layers


def _layer_bytes(saved: bytes) -> bytes:
    """Concatenate the files of every layer of a `docker save` archive."""
    data = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as image_tar:
        for entry in image_tar.getmembers():
            if entry.name.endswith("layer.tar"):
                with tarfile.open(fileobj=image_tar.extractfile(entry)) as layer:
                    for item in layer.getmembers():
                        if item.isfile():
                            data.append(layer.extractfile(item).read())
    return b"\n".join(data)


def test_another_tenants_image_in_the_platform_namespace_is_refused(app, developer, settings):
    settings.BERTH_REGISTRY = "127.0.0.1:5000"

    for image in ("127.0.0.1:5000/other/web:1", "berth/other/web:1", f"127.0.0.1:5000/{app.tenant.slug}x/web:1"):
        with pytest.raises(ApplicationError) as raised:
            build_create(app=app, actor=developer, image=image)
        assert raised.value.fields == {"image": ["Not this tenant's image."]}
    assert Build.objects.filter(app=app).count() == 0


@pytest.mark.docker
def test_an_image_that_is_only_on_the_builder_is_pulled_not_reused(app, developer, builder, sample_image):
    # given: an image the builder holds but no registry serves
    local_only = sample_image("worker")

    # when
    build = run(build_create(app=app, actor=developer, image=local_only))

    # then
    assert build.status == BuildStatus.FAILED
    assert f"Pulling {local_only}" in build.log
    assert build.error.startswith(f"Pull {local_only} failed on local")
    assert Release.objects.filter(app=app).count() == 0


@pytest.mark.docker
def test_a_build_step_past_the_memory_limit_fails(app, developer, builder, settings):
    settings.BERTH_BUILD_MEMORY_MB = 16
    dockerfile = BUSYBOX_STEPS + b'RUN ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]\n'

    build = run(build_create(app=app, actor=developer, archive_file=tarball({"Dockerfile": dockerfile})))

    assert build.status == BuildStatus.FAILED
    assert "returned a non-zero code: 137" in build.error
    assert Release.objects.filter(app=app).count() == 0


def test_a_build_argument_that_carries_a_secret_is_refused(app, developer, tmp_path, settings):
    # given
    settings.DATA_DIR = tmp_path
    ConfigVarFactory(app=app, key="API_KEY", value=crypto.encrypt("s3cr3t-value"), secret=True)

    # when / then
    for args in ({"API_KEY": "anything"}, {"TOKEN": "s3cr3t-value"}, {"URL": "https://u:s3cr3t-value@h"}):
        with pytest.raises(ApplicationError) as raised:
            build_create(app=app, actor=developer, image="example/app:1", build_args=args)
        assert raised.value.code == "secret_build_arg"
    assert Build.objects.filter(app=app).count() == 0


def test_a_build_argument_the_dockerfile_does_not_declare_fails_the_build(app, developer, tmp_path, settings):
    # given
    settings.DATA_DIR = tmp_path
    upload = tarball({"Dockerfile": BUSYBOX_STEPS + b"ARG VERSION\n"}, busybox=False)

    # when
    build = run(build_create(app=app, actor=developer, archive_file=upload, build_args={"VERSION": "1", "OTHER": "2"}))

    # then
    assert build.status == BuildStatus.FAILED
    assert build.error == "build arguments not declared by an ARG of the Dockerfile: OTHER"
    assert Release.objects.filter(app=app).count() == 0


def test_exactly_one_source_is_required(app, developer):
    with pytest.raises(ApplicationError) as raised:
        build_create(app=app, actor=developer, image="a/b:1", git_url="file:///tmp/x", git_ref="main")

    assert raised.value.fields == {"source": ["Exactly one of source, git, image."]}
    assert Build.objects.count() == 0


def test_a_build_waits_while_another_build_of_the_app_runs(app, developer, django_capture_on_commit_callbacks):
    # given
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from deployments.services.builds.core import REQUEUE_SECONDS
    from deployments.tests.factories import BuildFactory

    BuildFactory(app=app, number=1, status=BuildStatus.RUNNING, started_at=timezone.now())
    waiting = BuildFactory(app=app, number=2, status=BuildStatus.PENDING)
    assert DBTaskResult.objects.count() == 0

    # when
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        build_execute(build_id=waiting.pk)

    # then: still pending, and queued again on the builds queue, to run once REQUEUE_SECONDS have passed
    waiting.refresh_from_db()
    assert waiting.status == BuildStatus.PENDING
    assert waiting.started_at is None
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.queue_name, task.args_kwargs["args"], task.status) == (
        "deployments.tasks.build_run",
        "builds",
        [waiting.pk],
        "READY",
    )
    delay = (task.run_after - before).total_seconds()
    assert REQUEUE_SECONDS <= delay < REQUEUE_SECONDS + 60, delay


def _bad_source(case: str, tmp_path):
    """Return (build_create keyword arguments, the reason the build must fail with) of one kind of bad input."""
    repo = tmp_path / "repo"
    escaping_link = member("etc", type=tarfile.SYMTYPE, linkname="../../../../etc")
    cases = {
        "no Dockerfile": lambda: (
            {"archive_file": tarball({"Procfile": b"web: x\n"})},
            # No stack is registered in this test, so nothing can build an app without a Dockerfile (with a stack,
            # tests/services/builds/test_buildpacks.py covers what the buildpacks say).
            "this app has no Dockerfile and no stack is registered to build it with buildpacks",
        ),
        "Dockerfile syntax error": lambda: (
            {"archive_file": tarball({"Dockerfile": b"FROMM scratch\n"})},
            "unknown instruction: FROMM",
        ),
        "failing RUN": lambda: (
            {"archive_file": tarball({"Dockerfile": BUSYBOX_STEPS + b'RUN ["/bin/sh", "-c", "exit 3"]\n'})},
            "returned a non-zero code: 3",
        ),
        "archive with ../": lambda: (
            {
                "archive_file": SimpleUploadedFile(
                    "s.tar.gz", as_bytes([member("Dockerfile", b"FROM scratch\n"), member("../x", b"x")])
                )
            },
            "archive member '../x' climbs out of the context with '..'",
        ),
        "escaping symlink": lambda: (
            {
                "archive_file": SimpleUploadedFile(
                    "s.tar.gz", as_bytes([member("Dockerfile", b"FROM scratch\n"), escaping_link])
                )
            },
            "symlink 'etc' points outside the context ('../../../../etc')",
        ),
        "oversized archive": lambda: (
            {"archive_file": tarball({"Dockerfile": BUSYBOX_STEPS, "big": bytes(3 * 1024 * 1024)})},
            "the archive holds more than 2 MB once uncompressed",
        ),
        "oversized upload": lambda: (
            {"archive_file": SimpleUploadedFile("s.tar", b"x" * (3 * 1024 * 1024))},
            "the archive is larger than the 2 MB a build context may be",
        ),
        "missing git ref": lambda: (
            {"git_url": f"file://{repo}", "git_ref": "no-such-ref"},
            f"git clone failed: the ref 'no-such-ref' does not exist in file://{repo}",
        ),
        "time limit": lambda: (
            {"archive_file": tarball({"Dockerfile": BUSYBOX_STEPS + b'RUN ["/bin/sh", "-c", "sleep 120"]\n'})},
            "the build passed its time limit of 3 seconds and was stopped",
        ),
    }
    if case == "missing git ref":
        repository(repo, {"Dockerfile": BUSYBOX_STEPS})
    return cases[case]()


@pytest.mark.docker
@pytest.mark.parametrize(
    "case",
    [
        "no Dockerfile",
        "Dockerfile syntax error",
        "failing RUN",
        "archive with ../",
        "escaping symlink",
        "oversized archive",
        "oversized upload",
        "missing git ref",
        "time limit",
    ],
)
def test_bad_input_fails_the_build_with_a_readable_reason_and_changes_nothing(
    case, app, developer, builder, settings, tmp_path
):
    # given
    settings.BERTH_BUILD_MAX_CONTEXT_MB = 2
    settings.BERTH_BUILD_TIMEOUT = 3
    source, reason = _bad_source(case, tmp_path)

    # when
    build = run(build_create(app=app, actor=developer, **source))

    # then
    assert build.status == BuildStatus.FAILED
    assert reason in build.error
    assert f"Build failed: {build.error}" in build.log
    assert (build.image, build.digest, build.size_bytes, build.layers) == ("", "", None, None)
    assert Release.objects.filter(app=app).count() == 0
    assert not images.exists(LOCAL_ENGINE, f"{settings.BERTH_REGISTRY}/{app.tenant.slug}/web:1")


@pytest.mark.docker
def test_a_build_warns_past_the_size_and_layer_thresholds(app, developer, builder, settings):
    settings.BERTH_BUILD_WARN_LAYERS = 1
    settings.BERTH_BUILD_WARN_IMAGE_MB = 1

    build = run(build_create(app=app, actor=developer, archive_file=tarball({"Dockerfile": BUSYBOX_STEPS})))

    assert build.status == BuildStatus.SUCCEEDED, build.log
    assert build.warnings == [
        "the image is 2 MB, over the 1 MB threshold",
        "the image has 2 layers, over the threshold of 1",
    ]
    assert "Warning: the image has 2 layers, over the threshold of 1" in build.log
    assert Release.objects.filter(app=app, build=build).count() == 1


def test_builds_run_on_a_ready_builder_host_else_the_local_engine():
    from deployments.models import DockerHost, HostStatus
    from deployments.services.builds import BuildFailed, builder_spec

    # no host registered yet: the local engine
    assert builder_spec() == LOCAL_ENGINE
    # hosts registered, none ready: no build
    DockerHost.objects.create(name="down", engine_url="tcp://10.0.0.9:2376", status=HostStatus.DOWN, is_builder=True)
    with pytest.raises(BuildFailed):
        builder_spec()
    # a ready builder wins over a ready host that is not one, and its TLS material arrives decrypted
    DockerHost.objects.create(name="a-plain", engine_url="tcp://10.0.0.1:2376")
    DockerHost.objects.create(
        name="z-builder",
        engine_url="tcp://10.0.0.2:2376",
        is_builder=True,
        tls_ca=crypto.encrypt("CA"),
        tls_cert=crypto.encrypt("CERT"),
        tls_key=crypto.encrypt("KEY"),
    )
    assert builder_spec() == EngineSpec(
        name="z-builder", url="tcp://10.0.0.2:2376", tls_ca="CA", tls_cert="CERT", tls_key="KEY"
    )


@pytest.mark.docker
def test_a_build_whose_release_the_quota_refuses_stays_succeeded_and_says_why(app, developer, builder):
    # given: a tenant that may run no container
    app.tenant.max_containers = 0
    app.tenant.save(update_fields=["max_containers"])

    # when
    build = run(build_create(app=app, actor=developer, archive_file=tarball({"Dockerfile": BUSYBOX_STEPS})))

    # then: the image exists and is recorded, no release was made, and the log says why
    assert build.status == BuildStatus.SUCCEEDED, build.log
    assert build.digest.startswith("sha256:")
    assert Release.objects.filter(app=app).count() == 0
    assert build.log.splitlines()[-1].startswith("No release created: This would run 1 containers;")
