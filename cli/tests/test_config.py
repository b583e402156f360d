"""config verbs against the fake API: masking, reveal, set and unset."""


def test_config_shows_the_masked_values_the_api_sends(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/config/", {"DATABASE_URL": "********", "PORT": "5000"})

    code, out, _ = berth("config", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "DATABASE_URL: ********\nPORT:         5000\n"
    assert fake_api.requests[0].query == {}


def test_config_reveal_asks_for_the_keys(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/config/", {"A": "x", "B": "clear-b"})

    code, out, _ = berth("config:get", "B", "--reveal", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "clear-b\n"
    assert fake_api.requests[0].query == {"reveal": "B"}


def test_config_get_of_a_missing_key_exits_1(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/config/", {"A": "x"})

    code, out, err = berth("config:get", "B", "-t", "acme", "-a", "web")

    assert (code, out, err) == (1, "", "B is not set on web.\n")


def test_config_masks_secrets_whatever_the_api_sent(berth, fake_api):
    answer = {"PORT": "5000", "DATABASE_URL": {"value": "postgres://u:pw@db/x", "secret": True}}
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/config/", answer)

    code, out, _ = berth("config", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "DATABASE_URL: ********\nPORT:         5000\n"


def test_config_reads_a_list_of_vars_too(berth, fake_api):
    answer = [{"key": "A", "value": "1", "secret": False}, {"key": "S", "value": "••••", "secret": True}]
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/config/", answer)

    _, out, _ = berth("config", "-t", "acme", "-a", "web")

    assert out == "A: 1\nS: ********\n"


def test_config_set_patches_plain_values(berth, fake_api):
    fake_api.on("PATCH", "/api/v1/tenants/acme/apps/web/config/", {"A": "1", "B": "x=y"})

    code, out, _ = berth("config:set", "A=1", "B=x=y", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Set A, B on web.\n"
    assert fake_api.calls("PATCH")[0].json() == {"A": "1", "B": "x=y"}


def test_config_set_secret(berth, fake_api):
    fake_api.on("PATCH", "/api/v1/tenants/acme/apps/web/config/", (200, {"TOKEN": "********"}, {"Berth-Release": "4"}))

    code, out, _ = berth("config:set", "TOKEN=s3cr3t", "--secret", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Set TOKEN on web. Released v4.\n"
    assert fake_api.calls("PATCH")[0].json() == {"TOKEN": {"value": "s3cr3t", "secret": True}}


def test_config_set_without_equals_is_a_usage_error(berth, fake_api):
    code, _, err = berth("config:set", "A", "-t", "acme", "-a", "web")

    assert code == 2
    assert "expected KEY=VALUE, got 'A'" in err
    assert fake_api.requests == []


def test_config_unset_sends_nulls(berth, fake_api):
    fake_api.on("PATCH", "/api/v1/tenants/acme/apps/web/config/", {})

    code, out, _ = berth("config:unset", "A", "B", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Unset A, B on web.\n"
    assert fake_api.calls("PATCH")[0].json() == {"A": None, "B": None}


def test_config_set_file_reads_a_local_file_and_sends_its_path(berth, fake_api, tmp_path):
    pem = tmp_path / "db.pem"
    pem.write_text("-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    fake_api.on("PATCH", "/api/v1/tenants/acme/apps/web/config/", (200, {"DB_PEM": "********"}, {"Berth-Release": "5"}))

    code, out, _ = berth("config:set", f"DB_PEM=@{pem}", "--file", "/run/secrets/db.pem", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Set DB_PEM on web. Released v5.\n"
    assert fake_api.calls("PATCH")[0].json() == {
        "DB_PEM": {"value": pem.read_text(), "secret": True, "file": "/run/secrets/db.pem"}
    }


def test_config_set_file_takes_one_pair(berth, fake_api):
    code, _, err = berth("config:set", "A=1", "B=2", "--file", "/run/secrets/a", "-t", "acme", "-a", "web")

    assert code == 2
    assert "--file takes exactly one KEY=VALUE" in err
    assert fake_api.requests == []
