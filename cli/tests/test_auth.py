"""login and logout: the credentials file, and which token wins."""

import json
import stat

from .fakeapi import page


def test_login_checks_the_token_then_stores_it_private(berth, fake_api, tmp_path, monkeypatch):
    monkeypatch.delenv("BERTH_TOKEN")
    fake_api.on("GET", "/api/v1/tenants/", page([]))

    code, out, _err = berth("login", "--token", "brt_stored")

    path = tmp_path / "config" / "berth" / "credentials"
    assert code == 0
    assert out == f"Logged in to {fake_api.url}. Token stored in {path}.\n"
    assert json.loads(path.read_text()) == {"url": fake_api.url, "token": "brt_stored"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert fake_api.requests[0].headers["Authorization"] == "Bearer brt_stored"


def test_stored_token_is_used_and_the_environment_wins(berth, fake_api, monkeypatch):
    monkeypatch.delenv("BERTH_TOKEN")
    fake_api.on("GET", "/api/v1/tenants/", page([]))
    berth("login", "--token", "brt_stored")

    berth("tenants")
    monkeypatch.setenv("BERTH_TOKEN", "brt_fromenv")
    berth("tenants")

    assert [r.headers["Authorization"] for r in fake_api.requests] == [
        "Bearer brt_stored",
        "Bearer brt_stored",
        "Bearer brt_fromenv",
    ]


def test_login_with_a_refused_token_stores_nothing(berth, fake_api, tmp_path):
    error = {"code": "authentication_failed", "message": "Invalid, expired or revoked token.", "fields": {}}
    fake_api.on("GET", "/api/v1/tenants/", (401, {"error": error}))

    code, _, err = berth("login", "--token", "brt_wrong")

    assert code == 1
    assert err == "error: Invalid, expired or revoked token.\n"
    assert not (tmp_path / "config" / "berth" / "credentials").exists()


def test_login_refuses_something_that_is_not_a_token(berth, fake_api):
    code, _, _err = berth("login", "--token", "hunter2")

    assert code == 2
    assert fake_api.requests == []


def test_logout_removes_the_file(berth, fake_api, tmp_path):
    fake_api.on("GET", "/api/v1/tenants/", page([]))
    berth("login", "--token", "brt_stored")

    code, out, _ = berth("logout")

    assert code == 0
    assert out == "Logged out.\n"
    assert not (tmp_path / "config" / "berth" / "credentials").exists()
