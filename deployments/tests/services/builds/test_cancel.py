"""Cancelling builds against the real dockerd: a queued build never runs, a running one is stopped on the engine."""

import threading
import time
import uuid

import docker
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE
from deployments.models import Build, BuildStatus, Release
from deployments.services.builds import build_create, build_execute
from deployments.tests.factories import AppFactory, MembershipFactory
from deployments.tests.services.builds.tarballs import as_bytes, member
from samples import BUSYBOX
from tenants.models import AuditEvent

pytestmark = [pytest.mark.docker]

BUSYBOX_STEPS = b'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'


@pytest.fixture
def app():
    membership = MembershipFactory(tenant__slug=f"bct{uuid.uuid4().hex[:10]}", user__username="dev")
    return AppFactory(tenant=membership.tenant, slug="web")


@pytest.fixture
def developer(app):
    return app.tenant.memberships.get().user


@pytest.fixture
def builder(settings, tmp_path, registry_url, app):
    """Builds on the main dockerd, pushing to the test registry; removes every image the test's builds named."""
    settings.BERTH_REGISTRY = registry_url
    settings.DATA_DIR = tmp_path / "data"
    yield f"{registry_url}/{app.tenant.slug}/web"
    for number in Build.objects.filter(app=app).values_list("number", flat=True):
        images.remove(LOCAL_ENGINE, f"{registry_url}/{app.tenant.slug}/web:{number}")


def tarball(dockerfile: bytes) -> SimpleUploadedFile:
    members = [member("Dockerfile", dockerfile), member("busybox", BUSYBOX.read_bytes(), mode=0o755)]
    return SimpleUploadedFile("source.tar.gz", as_bytes(members), content_type="application/gzip")


def cancel_url(build: Build) -> str:
    return f"/api/v1/tenants/{build.app.tenant.slug}/apps/{build.app.slug}/builds/{build.number}/cancel/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def build_containers(marker: str) -> list[str]:
    """The ids of the engine's containers (build steps included) whose command carries `marker`.

    From the list call alone: inspecting each would race with the removal of containers other tests made.
    """
    client = docker.DockerClient(base_url=LOCAL_ENGINE.url)
    try:
        return [c["Id"] for c in client.api.containers(all=True) if marker in (c.get("Command") or "")]
    finally:
        client.close()


def run_in_thread(build_id: int) -> None:
    """Run the build as a worker would, in a thread with its own database connection, closed at the end."""
    try:
        build_execute(build_id=build_id)
    finally:
        connection.close()


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db
def test_a_cancelled_queued_build_never_runs(app, developer, builder):
    # given: a build that would succeed, still queued
    build = build_create(app=app, actor=developer, archive_file=tarball(BUSYBOX_STEPS))

    # when
    response = api(developer).post(cancel_url(build))

    # then: it is cancelled, says by whom, and its task finds nothing to run
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["cancelled_by"], body["error"]) == ("cancelled", "dev", "cancelled by dev")
    assert body["log"] == "Build cancelled by dev before it started.\n"
    assert build_execute(build_id=build.pk) is None
    build.refresh_from_db()
    assert build.status == BuildStatus.CANCELLED
    assert build.started_at is None
    assert build.finished_at is not None
    assert not images.exists(LOCAL_ENGINE, f"{builder}:1")
    assert Release.objects.filter(app=app).count() == 0
    event = AuditEvent.objects.get(action="build.cancel")
    assert (event.actor, event.tenant, event.diff) == (
        developer,
        app.tenant,
        {"number": 1, "status": ["pending", "cancelled"]},
    )


@pytest.mark.django_db(transaction=True)
def test_a_running_build_is_stopped_on_the_engine_and_the_next_one_starts(app, developer, builder, settings):
    # given: a build sleeping in a RUN step on the engine, and a second build of the app queued behind it
    settings.BERTH_BUILD_TIMEOUT = 60  # were the cancellation lost, the time limit would end the test
    marker = str(1000 + uuid.uuid4().int % 9000)
    sleeping = build_create(
        app=app,
        actor=developer,
        archive_file=tarball(BUSYBOX_STEPS + f'RUN ["/bin/sh", "-c", "sleep {marker}"]\n'.encode()),
    )
    queued = build_create(app=app, actor=developer, archive_file=tarball(BUSYBOX_STEPS))
    worker = threading.Thread(target=run_in_thread, args=(sleeping.pk,))
    worker.start()
    try:
        wait_for(lambda: build_containers(f"sleep {marker}"), timeout=60, what="the RUN step to start")
        assert build_execute(build_id=queued.pk).status == BuildStatus.PENDING  # it waits its turn
        DBTaskResult.objects.all().delete()

        # when
        response = api(developer).post(cancel_url(sleeping))
        # A deadline well under the build's time limit: were the cancellation lost, the worker would still run.
        # How fast it stops is measured in bench/build_cancel.py, not asserted here.
        worker.join(timeout=30)

        # then: the worker stopped, the step's container is gone, nothing was tagged or released
        stopped = not worker.is_alive()
    finally:
        worker.join()
    assert stopped
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    sleeping.refresh_from_db()
    assert sleeping.status == BuildStatus.CANCELLED
    assert sleeping.error == "cancelled by dev"
    assert sleeping.cancelled_by == developer
    assert sleeping.log.endswith("Build cancelled by dev and stopped on local: no image kept, no release created.\n")
    assert f"sleep {marker}" in sleeping.log
    assert (sleeping.image, sleeping.digest) == ("", "")
    assert not images.exists(LOCAL_ENGINE, f"{builder}:1")
    wait_for(lambda: not build_containers(f"sleep {marker}"), timeout=10, what="the step's container to go")
    assert Release.objects.filter(app=app).count() == 0
    # and the queued build was woken, and runs now that the app has no running build
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.args_kwargs["args"]) == ("deployments.tasks.build_run", [queued.pk])
    queued = build_execute(build_id=queued.pk)
    assert queued.status == BuildStatus.SUCCEEDED, queued.log
    assert list(Release.objects.filter(app=app).values_list("version", "build_id")) == [(1, queued.pk)]


@pytest.mark.django_db
def test_cancelling_a_finished_build_answers_409_and_changes_nothing(app, developer, builder):
    # given: a build that ran to its end on the engine
    build = build_create(app=app, actor=developer, archive_file=tarball(BUSYBOX_STEPS))
    build = build_execute(build_id=build.pk)
    assert build.status == BuildStatus.SUCCEEDED, build.log
    events = AuditEvent.objects.count()

    # when
    response = api(developer).post(cancel_url(build))

    # then
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "build_finished",
            "message": "Build 1 already ended (succeeded): only a pending or running build can be cancelled.",
            "fields": {},
        }
    }
    after = Build.objects.get(pk=build.pk)
    assert (after.status, after.error, after.cancelled_by, after.log) == (BuildStatus.SUCCEEDED, "", None, build.log)
    assert images.exists(LOCAL_ENGINE, f"{builder}:1")
    assert AuditEvent.objects.count() == events
