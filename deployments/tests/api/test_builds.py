import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from deployments.models import Build, BuildStatus
from deployments.tests.factories import AppFactory, BuildFactory, MembershipFactory, ReleaseFactory
from deployments.tests.services.builds.tarballs import as_bytes, member
from tenants.models import AuditEvent, Role, Scope
from tenants.services import token_create

pytestmark = [pytest.mark.django_db]

SOURCE = as_bytes([member("Dockerfile", b"FROM scratch\n")])


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def app():
    return AppFactory(tenant__slug="acme", slug="web")


def client_for(app, role: str) -> APIClient:
    membership = MembershipFactory(tenant=app.tenant, user__username=f"{role}-user", role=role)
    client = APIClient()
    client.force_login(membership.user)
    return client


def url(app, number: int | None = None) -> str:
    base = f"/api/v1/tenants/{app.tenant.slug}/apps/{app.slug}/builds/"
    return base if number is None else f"{base}{number}/"


def test_a_developer_uploads_an_archive_and_the_build_is_queued(app, tmp_path, django_capture_on_commit_callbacks):
    # given
    client = client_for(app, Role.DEVELOPER)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(app),
            {
                "source": SimpleUploadedFile("app.tar.gz", SOURCE),
                "dockerfile": "Dockerfile",
                "build_args": '{"V": "1"}',
            },
            format="multipart",
        )

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    build = Build.objects.get()
    assert (body["id"], body["number"], body["status"], body["source_kind"]) == (build.pk, 1, "pending", "tarball")
    assert body["source"] == {"dockerfile": "Dockerfile"}
    assert body["channel"] == f"build-{build.pk}"
    assert body["created_by"] == "developer-user"
    assert build.source["build_args"] == {"V": "1"}
    assert build.source["archive"] == str(tmp_path / "builds" / "acme" / "web" / "1.tar")
    assert (tmp_path / "builds" / "acme" / "web" / "1.tar").read_bytes() == SOURCE
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.queue_name, task.args_kwargs["args"]) == (
        "deployments.tasks.build_run",
        "builds",
        [build.pk],
    )
    assert list(AuditEvent.objects.values_list("action", "actor__username")) == [("build.create", "developer-user")]


def test_a_git_source_and_an_image_reference_are_accepted_as_json(app):
    client = client_for(app, Role.DEVELOPER)

    git = client.post(url(app), {"git": {"url": "https://u:pw@git.example.com/x.git", "ref": "v2"}}, format="json")
    image = client.post(url(app), {"image": "registry.example.com/team/app:3"}, format="json")

    assert git.status_code == 201, git.json()
    assert git.json()["source"] == {
        "git": {"url": "https://u:***@git.example.com/x.git", "ref": "v2"},
        "dockerfile": "Dockerfile",
    }
    assert image.status_code == 201, image.json()
    assert (image.json()["number"], image.json()["source"]) == (2, {"image": "registry.example.com/team/app:3"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "source"),
        ({"image": "a/b:1", "git": {"url": "file:///x", "ref": "main"}}, "source"),
        ({"git": {"url": "ssh://git@example.com/x.git", "ref": "main"}}, "git"),
        ({"git": {"url": "https://example.com/x.git", "ref": "--upload-pack=x"}}, "git"),
        ({"image": "not an image"}, "image"),
        ({"image": "a/b:1", "build_args": ["x"]}, "build_args"),
    ],
)
def test_an_invalid_request_is_refused_and_creates_nothing(app, body, field):
    client = client_for(app, Role.DEVELOPER)

    response = client.post(url(app), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Build.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


def test_a_viewer_and_a_read_token_cannot_build(app):
    viewer = client_for(app, Role.VIEWER)
    owner = MembershipFactory(tenant=app.tenant, user__username="owner-user", role=Role.OWNER).user
    _, plaintext = token_create(user=owner, scopes=[Scope.READ])
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    for client in (viewer, reader):
        response = client.post(url(app), {"image": "a/b:1"}, format="json")
        assert response.status_code == 403
    assert Build.objects.count() == 0
    assert viewer.get(url(app)).status_code == 200
    assert reader.get(url(app)).status_code == 200


def test_another_tenant_sees_and_changes_nothing(app):
    # given
    build = BuildFactory(app=app, number=1, status=BuildStatus.PENDING, log="secret-ish log")
    outsider = client_for(AppFactory(tenant__slug="other", slug="web"), Role.OWNER)

    # when / then
    assert outsider.get(url(app)).status_code == 404
    assert outsider.get(url(app, build.number)).status_code == 404
    response = outsider.post(url(app), {"image": "a/b:1"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert outsider.post(f"{url(app, build.number)}cancel/").status_code == 404
    # the outsider's own tenant with acme's app slug names nobody's build either
    assert outsider.post("/api/v1/tenants/other/apps/web/builds/1/cancel/").status_code == 404
    assert list(Build.objects.values_list("app__tenant__slug", "number", "status")) == [
        ("acme", 1, BuildStatus.PENDING)
    ]
    assert not AuditEvent.objects.filter(action="build.cancel").exists()


def test_a_developer_cancels_a_queued_build_and_a_viewer_cannot(app, django_capture_on_commit_callbacks):
    # given
    build = BuildFactory(app=app, number=1, status=BuildStatus.PENDING, image="")
    viewer = client_for(app, Role.VIEWER)
    developer = client_for(app, Role.DEVELOPER)

    # when
    refused = viewer.post(f"{url(app, 1)}cancel/")
    with django_capture_on_commit_callbacks(execute=True):
        response = developer.post(f"{url(app, 1)}cancel/")
    again = developer.post(f"{url(app, 1)}cancel/")

    # then
    assert refused.status_code == 403
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["number"], body["status"], body["cancelled_by"], body["error"]) == (
        1,
        "cancelled",
        "developer-user",
        "cancelled by developer-user",
    )
    assert body["log"] == "Build cancelled by developer-user before it started.\n"
    assert again.status_code == 409
    assert again.json()["error"]["message"] == (
        "Build 1 already ended (cancelled): only a pending or running build can be cancelled."
    )
    build.refresh_from_db()
    assert build.status == BuildStatus.CANCELLED
    assert AuditEvent.objects.filter(action="build.cancel", target_id=str(build.pk)).count() == 1


def test_list_leaves_logs_out_and_detail_has_the_log(app):
    # given
    failed = BuildFactory(app=app, number=1, status=BuildStatus.FAILED, log="Step 1/1\nBuild failed: x\n", error="x")
    built = BuildFactory(app=app, number=2, status=BuildStatus.SUCCEEDED, image="r/acme/web:2", digest="sha256:ab")
    ReleaseFactory(app=app, version=4, build=built)
    other_app = AppFactory(tenant=app.tenant, slug="api")
    elsewhere = BuildFactory(app=other_app, number=3, status=BuildStatus.PENDING)
    client = client_for(app, Role.VIEWER)

    # when
    listing = client.get(url(app)).json()
    detail = client.get(url(app, failed.number)).json()

    # then
    assert [(item["id"], item["number"], item["status"], item["release"]) for item in listing["results"]] == [
        (built.pk, 2, "succeeded", 4),
        (failed.pk, 1, "failed", None),
    ]
    assert "log" not in listing["results"][0]
    assert (detail["log"], detail["error"]) == ("Step 1/1\nBuild failed: x\n", "x")
    assert client.get(url(app, elsewhere.number)).status_code == 404
