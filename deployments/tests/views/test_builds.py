"""The app page's builds: a pending or running build has a Cancel button for callers who may deploy."""

import pytest
from django.contrib.auth import get_user_model

from deployments.models import Build, BuildStatus
from deployments.tests.factories import BuildFactory
from tenants.models import AuditEvent
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _status(build: Build) -> str:
    return Build.objects.get(pk=build.pk).status


def test_cancel_shows_on_active_builds_only_for_callers_who_may_deploy(client, members):
    BuildFactory(app=members["app"], number=1, status=BuildStatus.SUCCEEDED)
    BuildFactory(app=members["app"], number=2, status=BuildStatus.RUNNING, image="")
    BuildFactory(app=members["app"], number=3, status=BuildStatus.PENDING, image="")

    client.force_login(members["developer"])
    developer_page = client.get("/t/acme/apps/web/").content
    client.force_login(members["viewer"])
    viewer_page = client.get("/t/acme/apps/web/").content

    assert b"Cancel build #3" in developer_page
    assert b"Cancel build #2" in developer_page
    assert b"Cancel build #1" not in developer_page
    assert b"Cancel build #" not in viewer_page


def test_a_developer_cancels_a_pending_build(client, members):
    build = BuildFactory(app=members["app"], number=1, status=BuildStatus.PENDING, image="")
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/builds/1/cancel/", follow=True)

    assert response.redirect_chain == [("/t/acme/apps/web/", 302)]
    assert _messages(response) == ["Build #1 cancelled."]
    build.refresh_from_db()
    assert (build.status, build.cancelled_by, build.error) == (
        BuildStatus.CANCELLED,
        members["developer"],
        "cancelled by dana",
    )
    assert AuditEvent.objects.filter(action="build.cancel", actor=members["developer"]).count() == 1
    assert b'<span class="badge cancelled">cancelled</span>' in response.content
    assert b"Cancel build #1" not in response.content


def test_cancelling_a_finished_build_shows_the_conflict_and_changes_nothing(client, members):
    build = BuildFactory(app=members["app"], number=1, status=BuildStatus.SUCCEEDED)
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/builds/1/cancel/", follow=True)

    assert _messages(response) == [
        "Build 1 already ended (succeeded): only a pending or running build can be cancelled."
    ]
    assert _status(build) == BuildStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="build.cancel").count() == 0


def test_a_viewer_cannot_cancel_a_build(client, members):
    build = BuildFactory(app=members["app"], number=1, status=BuildStatus.RUNNING, image="")
    client.force_login(members["viewer"])

    response = client.post("/t/acme/apps/web/builds/1/cancel/")

    assert response.status_code == 404
    assert _status(build) == BuildStatus.RUNNING
    assert AuditEvent.objects.filter(action="build.cancel").count() == 0


def test_a_missing_build_answers_404(client, members):
    client.force_login(members["developer"])

    assert client.post("/t/acme/apps/web/builds/7/cancel/").status_code == 404


def test_another_tenants_build_answers_404_and_keeps_running(client, members):
    build = BuildFactory(app=members["app"], number=1, status=BuildStatus.RUNNING, image="")
    outsider = get_user_model().objects.create_user(username="mallory", password="x")
    tenant_create(actor=outsider, slug="globex")
    client.force_login(outsider)

    response = client.post("/t/acme/apps/web/builds/1/cancel/")

    assert response.status_code == 404
    assert _status(build) == BuildStatus.RUNNING


def test_cancel_refuses_a_get(client, members):
    build = BuildFactory(app=members["app"], number=1, status=BuildStatus.PENDING, image="")
    client.force_login(members["developer"])

    assert client.get("/t/acme/apps/web/builds/1/cancel/").status_code == 405
    assert _status(build) == BuildStatus.PENDING
