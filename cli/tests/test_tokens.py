"""tokens verbs against the fake API."""

from .fakeapi import page


def test_tokens_table(berth, fake_api):
    token = {
        "id": 7,
        "name": "ci",
        "display": "brt_abcdefgh…",
        "tenant": "acme",
        "scopes": ["read", "deploy"],
        "expires_at": None,
        "last_used_at": "2026-11-28T02:57:33Z",
        "created_at": "2026-11-28T02:00:00Z",
    }
    fake_api.on("GET", "/api/v1/tokens/", page([token]))

    code, out, _ = berth("tokens")

    assert code == 0
    assert out == (
        "ID  NAME  TOKEN          TENANT  SCOPES       EXPIRES  LAST USED\n"
        "7   ci    brt_abcdefgh…  acme    read,deploy  never    2026-11-28 02:57:33Z\n"
    )


def test_tokens_create_prints_the_token_alone_on_stdout(berth, fake_api):
    created = {"id": 8, "tenant": "acme", "scopes": ["read", "deploy"], "token": "brt_newtoken"}
    fake_api.on("POST", "/api/v1/tokens/", (201, created))

    code, out, err = berth("tokens:create", "--scopes", "read,deploy", "-t", "acme", "--expires-days", "30")

    body = fake_api.calls("POST")[0].json()
    assert code == 0
    assert out == "brt_newtoken\n"
    assert err == "Created token 8 with scopes read,deploy restricted to acme.\nIt is shown once: store it now.\n"
    assert body["scopes"] == ["read", "deploy"]
    assert body["tenant"] == "acme"
    assert body["name"] == ""
    assert body["expires_at"].endswith("Z")


def test_tokens_create_without_tenant_or_expiry_sends_nulls(berth, fake_api):
    fake_api.on("POST", "/api/v1/tokens/", (201, {"id": 9, "tenant": None, "scopes": ["read"], "token": "brt_x"}))

    berth("tokens:create", "--scopes", "read")

    assert fake_api.calls("POST")[0].json() == {"name": "", "scopes": ["read"], "tenant": None, "expires_at": None}


def test_tokens_create_refuses_an_unknown_scope(berth, fake_api):
    code, _, err = berth("tokens:create", "--scopes", "read,root")

    assert code == 2
    assert "--scopes takes a comma-separated subset of read,write,deploy,admin" in err
    assert fake_api.requests == []


def test_tokens_revoke(berth, fake_api):
    fake_api.on("DELETE", "/api/v1/tokens/7/", (204, None))

    code, out, _ = berth("tokens:revoke", "7")

    assert code == 0
    assert out == "Revoked token 7.\n"
