"""git's smart HTTP at /git/<tenant>/<app>.git: who may push or fetch, what is refused, and that nothing is stored."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from deployments.models import App, Build
from deployments.services.apps import app_delete
from deployments.services.gitrepos import repositories_root, repository_path
from deployments.tests.git.pushing import GIT_ENV, git, push, remote_lines, remote_url, working_copy
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

BERTH = Path(__file__).resolve().parents[3] / "cli" / "berth"


def _token(username: str, scopes: str, tenant: str | None = None) -> str:
    out = StringIO()
    extra = ["--tenant", tenant] if tenant else []
    call_command("createtoken", username, "--scopes", scopes, *extra, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def world(settings, tmp_path):
    """acme (alice) with the app web, other (bob) with the app web; a small working copy on main."""
    settings.DATA_DIR = tmp_path / "data"
    call_command("createtenant", "acme", "--owner", "alice", stdout=StringIO())
    call_command("createtenant", "other", "--owner", "bob", stdout=StringIO())
    for slug in ("acme", "other"):
        App.objects.create(tenant=Tenant.objects.get(slug=slug), slug="web")
    source = tmp_path / "src"
    source.mkdir()
    (source / "index.html").write_text("<h1>hello</h1>\n")
    return working_copy(source)


def _nothing_stored():
    assert Build.objects.count() == 0
    assert not repositories_root().exists() or not any(repositories_root().rglob("HEAD"))


def test_a_push_without_credentials_is_asked_for_them_and_stores_nothing(live_server, world):
    result = push(world, remote_url(live_server.url, "acme", "web", None))
    assert result.returncode == 128
    assert "could not read Username" in result.stderr  # git asked for credentials (401) and may not prompt
    _nothing_stored()


def test_a_wrong_token_is_refused_as_unauthenticated(live_server, world):
    result = push(world, remote_url(live_server.url, "acme", "web", "brt_notavalidtoken"))
    assert result.returncode == 128
    assert "Authentication failed" in result.stderr
    _nothing_stored()


def test_a_read_only_token_cannot_push(live_server, world):
    result = push(world, remote_url(live_server.url, "acme", "web", _token("alice", "read")))
    assert result.returncode == 128
    assert "403" in result.stderr
    assert "pushing needs the deploy scope" in result.stderr
    _nothing_stored()


@pytest.mark.parametrize("tenant,app", [("other", "web"), ("acme", "missing"), ("nosuchtenant", "web")])
def test_another_tenants_app_answers_as_a_missing_one(live_server, world, tenant, app):
    token = _token("alice", "read,write,deploy")
    result = push(world, remote_url(live_server.url, tenant, app, token))
    assert result.returncode == 128
    # the same words for another tenant's app, a missing app and a missing tenant (a 404 to git)
    url = f"{live_server.url}/git/{tenant}/{app}.git/"
    assert result.stderr == f"remote: Repository not found.\nfatal: repository '{url}' not found\n"
    _nothing_stored()


def test_a_token_restricted_to_another_tenant_answers_as_missing(live_server, world):
    token = _token("alice", "read,write,deploy", tenant="acme")
    call_command("createtenant", "third", "--owner", "alice", stdout=StringIO())
    App.objects.create(tenant=Tenant.objects.get(slug="third"), slug="web")
    result = push(world, remote_url(live_server.url, "third", "web", token))
    assert result.returncode == 128
    assert "remote: Repository not found." in result.stderr
    _nothing_stored()


def test_a_push_of_another_branch_is_refused_with_the_reason_and_builds_nothing(live_server, world):
    token = _token("alice", "read,write,deploy")
    git("checkout", "--quiet", "-b", "feature", cwd=world)
    result = push(world, remote_url(live_server.url, "acme", "web", token), "feature")
    assert result.returncode == 1
    assert remote_lines(result.stderr)[-1] == (
        "Push refused: Berth deploys only the branch main; refused refs/heads/feature. "
        "Push with `git push berth HEAD:main`."
    )
    assert "[remote rejected] feature -> feature (pre-receive hook declined)" in result.stderr
    assert Build.objects.count() == 0
    # the repository exists (the push was authorised) but took no ref
    refs = git(
        "--git-dir", str(repository_path(tenant_slug="acme", app_slug="web")), "show-ref", cwd=world, check=False
    )
    assert refs.stdout == ""


def test_fetching_before_any_push_answers_not_found(live_server, world, tmp_path):
    token = _token("alice", "read")
    result = git(
        "clone", remote_url(live_server.url, "acme", "web", token), str(tmp_path / "clone"), cwd=tmp_path, check=False
    )
    assert result.returncode == 128
    assert "Nothing was pushed to this repository yet." in result.stderr


def test_berth_git_remote_lets_git_push_with_the_token_from_the_cli(live_server, world):
    # given: the remote added by the CLI, the token only in BERTH_TOKEN (git asks the CLI for it)
    env = {**GIT_ENV, "BERTH_URL": live_server.url, "BERTH_TOKEN": _token("alice", "read,write,deploy")}
    added = subprocess.run(
        [sys.executable, str(BERTH), "git:remote", "-t", "acme", "-a", "web"],
        cwd=world, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    git("checkout", "--quiet", "-b", "feature", cwd=world)

    # when: a branch other than main is pushed through the remote
    pushed = subprocess.run(
        ["git", "push", "berth", "feature"], cwd=world, env=env, capture_output=True, text=True, check=False
    )

    # then: the portal took the credentials (the hook answered) and refused the branch
    assert pushed.returncode == 1
    assert remote_lines(pushed.stderr)[-1].startswith("Push refused: Berth deploys only the branch main")
    assert Build.objects.count() == 0


def test_the_repository_is_removed_with_the_app(live_server, world):
    token = _token("alice", "read,write,deploy")
    git("checkout", "--quiet", "-b", "feature", cwd=world)
    push(world, remote_url(live_server.url, "acme", "web", token), "feature")
    path = repository_path(tenant_slug="acme", app_slug="web")
    assert (path / "HEAD").is_file()

    app_delete(app=App.objects.get(tenant__slug="acme", slug="web"), actor=User.objects.get(username="alice"))

    assert not path.exists()
    assert (repositories_root() / "acme").is_dir()  # the other apps of the tenant keep theirs


def test_a_push_over_the_size_limit_is_refused_with_the_reason_and_stores_nothing(live_server, world, settings):
    settings.BERTH_GIT_MAX_PUSH_MB = 1
    (world / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # random: does not compress
    git("add", "-A", cwd=world)
    git("commit", "--quiet", "-m", "big", cwd=world)

    result = push(world, remote_url(live_server.url, "acme", "web", _token("alice", "read,write,deploy")))

    assert result.returncode != 0
    assert "pack exceeds maximum allowed size" in result.stderr, result.stderr
    assert Build.objects.count() == 0
    refs = git(
        "--git-dir", str(repository_path(tenant_slug="acme", app_slug="web")), "show-ref", cwd=world, check=False
    )
    assert refs.stdout == ""
