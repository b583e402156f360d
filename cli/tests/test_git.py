"""git:remote and git:credential against the fake API and a real git working copy."""

import io
import subprocess
import sys

APP = "/api/v1/tenants/acme/apps/web/"


def _git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_git_remote_adds_the_remote_and_a_credential_helper_without_the_token(berth, fake_api, tmp_path):
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    fake_api.on("GET", APP, {"slug": "web"})

    code, out, _ = berth("git:remote", "-t", "acme", "-a", "web", "-C", str(tmp_path))

    url = f"{fake_api.url}/git/acme/web.git"
    assert code == 0
    assert out == f"Remote berth is {url}; deploy with `git push berth main`.\n"
    assert _git(tmp_path, "remote", "get-url", "berth") == url
    helper = _git(tmp_path, "config", f"credential.{url}.helper")
    assert helper.startswith(f"!{sys.executable} ") and helper.endswith("/berth git:credential")
    assert "brt_testtoken" not in (tmp_path / ".git" / "config").read_text()


def test_git_remote_again_moves_the_remote(berth, fake_api, tmp_path):
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    _git(tmp_path, "remote", "add", "berth", "http://old.example/x.git")
    fake_api.on("GET", APP, {"slug": "web"})

    code, _, _ = berth("git:remote", "-t", "acme", "-a", "web", "-C", str(tmp_path), "--json")

    assert code == 0
    assert _git(tmp_path, "remote", "get-url", "berth") == f"{fake_api.url}/git/acme/web.git"


def test_git_remote_of_a_missing_app_fails_and_changes_nothing(berth, fake_api, tmp_path):
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)

    code, _, err = berth("git:remote", "-t", "acme", "-a", "web", "-C", str(tmp_path))

    assert code == 1
    assert "Not found." in err
    assert _git(tmp_path, "remote") == ""


def test_git_remote_outside_a_working_copy_says_so(berth, fake_api, tmp_path):
    fake_api.on("GET", APP, {"slug": "web"})

    code, _, err = berth("git:remote", "-t", "acme", "-a", "web", "-C", str(tmp_path))

    assert code == 2
    assert err == f"berth git:remote: error: {tmp_path} is not a git working copy (run `git init` first)\n"


def test_git_credential_answers_get_with_the_token_and_ignores_store(berth, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("protocol=http\nhost=portal\n\n"))
    assert berth("git:credential", "get") == (0, "username=berth\npassword=brt_testtoken\n", "")
    monkeypatch.setattr(sys, "stdin", io.StringIO("protocol=http\n"))
    assert berth("git:credential", "store") == (0, "", "")
