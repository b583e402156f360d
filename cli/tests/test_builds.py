"""deploy and builds: the uploaded context, the image and git payloads, and following the log."""

import io
import tarfile
from email.parser import BytesParser
from email.policy import default

import pytest

from .fakeapi import page

BUILDS = "/api/v1/tenants/acme/apps/web/builds/"


def _parts(recorded) -> dict:
    head = f"Content-Type: {recorded.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=default).parsebytes(head + recorded.body)
    return {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}


def _names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return sorted(tar.getnames())


@pytest.fixture
def context(tmp_path):
    app = tmp_path / "app"
    (app / ".git" / "objects").mkdir(parents=True)
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / "node_modules" / "x").mkdir(parents=True)
    (app / "node_modules" / "x" / "index.js").write_text("1")
    (app / "Dockerfile").write_text("FROM scratch\n")
    (app / "Procfile").write_text("web: httpd -f -p $PORT\n")
    (app / "notes.log").write_text("x")
    (app / "keep.log").write_text("x")
    (app / "www").mkdir()
    (app / "www" / "index.html").write_text("<h1>hi</h1>")
    (app / ".dockerignore").write_text("# build junk\nnode_modules\n*.log\n!keep.log\n")
    return app


def test_deploy_uploads_the_context_without_git_or_ignored_files(berth, fake_api, context):
    fake_api.on("POST", BUILDS, (201, {"number": 12, "status": "succeeded", "log": "Step 1/1 : FROM scratch\n"}))
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/releases/", page([]))

    code, out, err = berth("deploy", "-t", "acme", "-a", "web", str(context))

    upload = fake_api.calls("POST", BUILDS)[0]
    parts = _parts(upload)
    assert code == 0
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert list(parts) == ["source"]
    assert parts["source"].get_filename() == "source.tar.gz"
    assert _names(parts["source"].get_content()) == [
        ".dockerignore",
        "Dockerfile",
        "Procfile",
        "keep.log",
        "www/index.html",
    ]
    assert out == "Step 1/1 : FROM scratch\nBuild 12 succeeded.\n"
    assert "Uploading 5 files" in err


def test_deploy_sends_a_custom_dockerfile_path(berth, fake_api, context):
    (context / "deploy").mkdir()
    (context / "deploy" / "Dockerfile.prod").write_text("FROM scratch\n")
    fake_api.on("POST", BUILDS, (201, {"id": 1, "status": "succeeded"}))

    berth("deploy", "-t", "acme", "-a", "web", str(context), "--dockerfile", "deploy/Dockerfile.prod")

    parts = _parts(fake_api.calls("POST", BUILDS)[0])
    assert parts["dockerfile"].get_content() == "deploy/Dockerfile.prod"


def test_deploy_without_a_dockerfile_is_a_usage_error(berth, fake_api, tmp_path):
    code, _, err = berth("deploy", "-t", "acme", "-a", "web", str(tmp_path))

    assert code == 2
    assert "a build context needs a Dockerfile" in err
    assert fake_api.requests == []


def test_deploy_follows_the_build_printing_each_part_of_the_log_once(berth, fake_api):
    fake_api.on("POST", BUILDS, (201, {"id": 812, "number": 12, "status": "pending", "log": ""}))
    fake_api.on(
        "GET",
        f"{BUILDS}12/",
        {"id": 812, "number": 12, "status": "running", "log": "Step 1/2\n"},
        {"id": 812, "number": 12, "status": "running", "log": "Step 1/2\n"},
        {"id": 812, "number": 12, "status": "running", "log": "Step 1/2\nStep 2/2\n"},
        {"id": 812, "number": 12, "status": "succeeded", "log": "Step 1/2\nStep 2/2\nDone", "image": "reg/acme/web:12"},
    )
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/releases/", page([{"version": 5, "build": 12}]))

    code, out, err = berth("deploy", "-t", "acme", "-a", "web", "--image", "busybox:1", "--interval", "0")

    assert code == 0
    assert fake_api.calls("POST", BUILDS)[0].json() == {"image": "busybox:1"}
    assert len(fake_api.calls("GET", f"{BUILDS}12/")) == 4
    assert fake_api.calls("GET", "/api/v1/tenants/acme/apps/web/releases/")[0].query == {"limit": "1"}
    assert out == "Step 1/2\nStep 2/2\nDone\nBuild 12 succeeded; released v5. Image reg/acme/web:12\n"
    assert err == "Build 12 started.\n"


def test_deploy_of_a_failed_build_exits_1_with_its_error(berth, fake_api):
    fake_api.on("POST", BUILDS, (201, {"id": 3, "status": "running", "log": ""}))
    fake_api.on("GET", f"{BUILDS}3/", {"id": 3, "status": "failed", "log": "boom\n", "error": "RUN exited 1"})

    code, out, err = berth("deploy", "-t", "acme", "-a", "web", "--image", "x", "--interval", "0")

    assert code == 1
    assert out == "boom\n"
    assert err.endswith("error: build 3 failed: RUN exited 1\n")


def test_deploy_git(berth, fake_api):
    fake_api.on("POST", BUILDS, (201, {"number": 2, "status": "pending"}))

    code, out, _ = berth("deploy", "-t", "acme", "-a", "web", "--git", "https://g/x.git", "--ref", "v1", "--no-follow")
    berth("deploy", "-t", "acme", "-a", "web", "--git", "https://g/x.git", "--no-follow")

    assert code == 0
    assert fake_api.calls("POST", BUILDS)[0].json() == {"git": {"url": "https://g/x.git", "ref": "v1"}}
    assert fake_api.calls("POST", BUILDS)[1].json() == {"git": {"url": "https://g/x.git"}}
    assert out == "Build 2 is pending.\n"


def test_deploy_json_prints_the_finished_build_and_the_log_on_stderr(berth, fake_api):
    fake_api.on("POST", BUILDS, (201, {"id": 4, "status": "succeeded", "log": "ok\n"}))

    code, out, err = berth("deploy", "-t", "acme", "-a", "web", "--image", "x", "--json")

    assert code == 0
    assert out == '{\n  "id": 4,\n  "status": "succeeded",\n  "log": "ok\\n"\n}\n'
    assert err == "ok\n"


def test_builds_cancel_posts_to_the_build_and_says_so(berth, fake_api):
    fake_api.on("POST", f"{BUILDS}7/cancel/", {"number": 7, "status": "cancelled", "cancelled_by": "alice"})

    code, out, err = berth("builds:cancel", "7", "-t", "acme", "-a", "web")

    assert (code, out, err) == (0, "Build 7 cancelled.\n", "")
    assert [(r.method, r.path, r.body) for r in fake_api.requests] == [("POST", f"{BUILDS}7/cancel/", b"{}")]


def test_builds_cancel_of_a_finished_build_exits_1_with_the_servers_reason(berth, fake_api):
    message = "Build 6 already ended (succeeded): only a pending or running build can be cancelled."
    fake_api.on("POST", f"{BUILDS}6/cancel/", (409, {"error": {"code": "build_finished", "message": message}}))

    code, out, err = berth("builds:cancel", "6", "-t", "acme", "-a", "web")

    assert (code, out, err) == (1, "", f"error: {message}\n")


def test_builds_info_says_who_cancelled_a_build(berth, fake_api):
    build = {"number": 8, "status": "cancelled", "created_by": "bob", "cancelled_by": "alice", "log": "Step 1/2\n"}
    fake_api.on("GET", f"{BUILDS}8/", build)

    code, out, _ = berth("builds:info", "8", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "build:        8\nby:           bob\nstatus:       cancelled\ncancelled by: alice\n\nStep 1/2\n"
