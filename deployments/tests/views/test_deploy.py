"""Deploy from the browser: the deploy forms call build_create; the build and rollout pages follow their WebSockets."""

import io
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deployments.models import Build, BuildStatus, Deployment, DeploymentStatus, SourceKind
from deployments.tests.factories import BuildFactory, ReleaseFactory
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _archive() -> SimpleUploadedFile:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        body = b"FROM scratch\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return SimpleUploadedFile("app.tar.gz", data.getvalue(), content_type="application/gzip")


def test_the_app_page_shows_the_deploy_forms_to_deployers_only(client, members):
    client.force_login(members["developer"])
    developer_page = client.get("/t/acme/apps/web/").content
    client.force_login(members["viewer"])
    viewer_page = client.get("/t/acme/apps/web/").content

    for form_id in (b'id="deploy-archive"', b'id="deploy-git"', b'id="deploy-image"'):
        assert form_id in developer_page
        assert form_id not in viewer_page
    assert b'enctype="multipart/form-data"' in developer_page
    assert b"data-upload-progress" in developer_page


def test_uploading_an_archive_creates_a_pending_build_and_opens_its_page(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/deploy/", {"kind": "archive", "source": _archive()}, follow=True)

    build = Build.objects.get(app=members["app"])
    assert response.redirect_chain == [("/t/acme/apps/web/builds/1/", 302)]
    assert (build.number, build.source_kind, build.status, build.created_by) == (
        1,
        SourceKind.TARBALL,
        BuildStatus.PENDING,
        members["developer"],
    )
    assert b'data-build-ws="/ws/tenants/acme/apps/web/builds/1/"' in response.content
    assert b'data-summary-url="/t/acme/apps/web/builds/1/summary/"' in response.content


def test_an_image_reference_is_deployed_through_the_same_service(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/deploy/", {"kind": "image", "image": "registry.test/shop:7"})

    assert response.status_code == 302
    build = Build.objects.get(app=members["app"])
    assert (build.source_kind, build.source) == (SourceKind.IMAGE, {"image": "registry.test/shop:7"})


def test_a_refused_git_url_comes_back_as_a_message_and_creates_nothing(client, members):
    client.force_login(members["developer"])

    response = client.post(
        "/t/acme/apps/web/deploy/", {"kind": "git", "url": "ftp://git.example.com/app.git", "ref": "main"}, follow=True
    )

    assert response.redirect_chain == [("/t/acme/apps/web/", 302)]
    [message] = _messages(response)
    assert message.startswith("Nothing deployed: ")
    assert Build.objects.count() == 0


def test_a_form_without_its_source_says_which_field_is_missing(client, members):
    client.force_login(members["developer"])

    response = client.post("/t/acme/apps/web/deploy/", {"kind": "archive"}, follow=True)

    assert _messages(response) == [
        "Nothing deployed. Archive (.tar or .tar.gz with a Dockerfile): This field is required."
    ]
    assert Build.objects.count() == 0


def test_a_viewer_cannot_deploy_and_nothing_is_built(client, members):
    client.force_login(members["viewer"])

    response = client.post("/t/acme/apps/web/deploy/", {"kind": "image", "image": "registry.test/shop:7"})

    assert response.status_code == 404
    assert Build.objects.count() == 0
    assert AuditEvent.objects.filter(action__startswith="build").count() == 0


def test_a_finished_build_page_shows_its_log_image_facts_warnings_and_rollout(client, members):
    app = members["app"]
    build = BuildFactory(
        app=app,
        number=1,
        log="Step 1/2 : FROM scratch\nBuilt\n",
        digest="sha256:abc",
        size_bytes=2_500_000,
        layers=3,
        warnings=["No USER in the Dockerfile: the container runs as 65534."],
    )
    release = ReleaseFactory(app=app, version=2, build=build)
    steps = [
        {
            "name": "start web.1",
            "status": "succeeded",
            "started_at": "2026-12-01T10:00:00+00:00",
            "finished_at": "2026-12-01T10:00:02+00:00",
            "detail": "on local",
        }
    ]
    deployment = Deployment.objects.create(
        app=app, release=release, status=DeploymentStatus.SUCCEEDED, steps=steps, progress=100
    )
    client.force_login(members["viewer"])

    page = client.get("/t/acme/apps/web/builds/1/").content.decode()

    assert "data-build-ws" not in page
    assert "Step 1/2 : FROM scratch\nBuilt\n</pre>" in page
    assert "<dt>Size</dt><dd>2.4\xa0MB</dd>" in page
    assert "<dt>Layers</dt><dd>3</dd>" in page
    assert "No USER in the Dockerfile" in page
    assert f'href="/t/acme/apps/web/deployments/{deployment.pk}/"' in page
    assert "start web.1" in page
    assert "data-deployment-ws" not in page  # finished: nothing left to follow
    assert "Cancel build" not in page


def test_the_summary_of_a_succeeded_build_waits_for_its_rollout_to_be_planned(client, members):
    BuildFactory(app=members["app"], number=1)
    client.force_login(members["developer"])

    fragment = client.get("/t/acme/apps/web/builds/1/summary/").content.decode()

    assert 'hx-get="/t/acme/apps/web/builds/1/summary/"' in fragment
    assert 'hx-trigger="load delay:1s"' in fragment


def test_a_running_rollout_page_follows_the_deployment_websocket(client, members):
    app = members["app"]
    release = ReleaseFactory(app=app, version=2)
    deployment = Deployment.objects.create(app=app, release=release, status=DeploymentStatus.RUNNING, progress=25)
    client.force_login(members["viewer"])

    page = client.get(f"/t/acme/apps/web/deployments/{deployment.pk}/").content.decode()

    assert f'data-deployment-ws="/ws/tenants/acme/apps/web/deployments/{deployment.pk}/"' in page
    assert '<progress max="100" value="25"' in page


@pytest.mark.parametrize(
    "path",
    ["/t/acme/apps/web/builds/1/", "/t/acme/apps/web/builds/1/summary/", "/t/acme/apps/web/deployments/{id}/"],
)
def test_another_tenants_user_gets_404_on_the_build_and_rollout_pages(client, members, django_user_model, path):
    app = members["app"]
    release = ReleaseFactory(app=app, version=2, build=BuildFactory(app=app, number=1))
    deployment = Deployment.objects.create(app=app, release=release)
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))

    response = client.get(path.format(id=deployment.pk))
    deploy = client.post("/t/acme/apps/web/deploy/", {"kind": "image", "image": "registry.test/x:1"})

    assert (response.status_code, deploy.status_code) == (404, 404)
    assert Build.objects.count() == 1
