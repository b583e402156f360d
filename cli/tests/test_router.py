"""router and maintenance verbs against the fake API."""

ROUTER = "/api/v1/tenants/acme/apps/web/router/"
SETTINGS = {
    "max_body_mb": 100,
    "connect_timeout_s": 5,
    "read_timeout_s": 60,
    "force_https": False,
    "maintenance": False,
    "maintenance_page": "",
    "allow": [],
}


def test_router_shows_the_settings(berth, fake_api):
    fake_api.on("GET", ROUTER, {**SETTINGS, "allow": ["10.0.0.0/8", "192.0.2.0/24"]})

    code, out, _ = berth("router", "-t", "acme", "-a", "web")

    assert code == 0
    assert "allow" in out and "10.0.0.0/8, 192.0.2.0/24" in out
    assert "max_body_mb" in out and "100" in out


def test_router_set_sends_typed_values(berth, fake_api):
    fake_api.on("PATCH", ROUTER, {**SETTINGS, "max_body_mb": 5, "force_https": True, "allow": ["10.0.0.0/8"]})

    code, _, _ = berth("router:set", "max_body_mb=5", "force_https=true", "allow=10.0.0.0/8", "-t", "acme", "-a", "web")

    assert code == 0
    assert fake_api.calls("PATCH")[0].json() == {"max_body_mb": 5, "force_https": True, "allow": ["10.0.0.0/8"]}


def test_router_set_refuses_an_unknown_key_without_calling_the_api(berth, fake_api):
    code, _, err = berth("router:set", "proxy_pass=http://evil", "-t", "acme", "-a", "web")

    assert code != 0
    assert "unknown router setting 'proxy_pass'" in err
    assert fake_api.calls("PATCH") == []


def test_maintenance_on_sends_the_page(berth, fake_api, tmp_path):
    page_file = tmp_path / "down.html"
    page_file.write_text("<h1>Back soon</h1>\n")
    fake_api.on("PATCH", ROUTER, {**SETTINGS, "maintenance": True})

    code, out, _ = berth("maintenance:on", "--page", str(page_file), "-t", "acme", "-a", "web")

    assert code == 0
    assert out.startswith("web is in maintenance")
    assert fake_api.calls("PATCH")[0].json() == {"maintenance": True, "maintenance_page": "<h1>Back soon</h1>\n"}


def test_maintenance_off(berth, fake_api):
    fake_api.on("PATCH", ROUTER, SETTINGS)

    code, out, _ = berth("maintenance:off", "-t", "acme", "-a", "web")

    assert (code, out) == (0, "web is served again.\n")
    assert fake_api.calls("PATCH")[0].json() == {"maintenance": False}
