"""apps verbs against the fake API."""

from .fakeapi import page

APP = {
    "slug": "web",
    "tenant": "acme",
    "url": "http://web.acme.localhost:8080/",
    "current_release": 3,
    "process_types": {"web": "httpd -f -p $PORT"},
    "created_at": "2026-11-28T02:00:00Z",
}


def test_apps_table(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/apps/", page([APP, {"slug": "api", "url": None, "current_release": None}]))

    code, out, _ = berth("apps", "-t", "acme")

    assert code == 0
    assert out == (
        "NAME  RELEASE  URL\n"  # trailing spaces are stripped
        "web   v3       http://web.acme.localhost:8080/\n"
        "api\n"
    )


def test_apps_create_posts_the_slug(berth, fake_api):
    fake_api.on("POST", "/api/v1/tenants/acme/apps/", (201, APP))

    code, out, _ = berth("apps:create", "web", "-t", "acme")

    assert code == 0
    assert out == "Created app web in acme at http://web.acme.localhost:8080/.\n"
    assert fake_api.calls("POST")[0].json() == {"slug": "web"}


def test_apps_info(berth, fake_api):
    fake_api.on("GET", "/api/v1/tenants/acme/apps/web/", APP)

    code, out, _ = berth("apps:info", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "name:      web\n"
        "tenant:    acme\n"
        "url:       http://web.acme.localhost:8080/\n"
        "release:   v3\n"
        "processes: web (httpd -f -p $PORT)\n"
        "created:   2026-11-28 02:00:00Z\n"
    )


def test_apps_destroy_needs_the_name_confirmed_and_sends_nothing_otherwise(berth, fake_api):
    code, _, err = berth("apps:destroy", "-t", "acme", "-a", "web", "--confirm", "api")

    assert code == 2
    assert "pass --confirm web" in err
    assert fake_api.requests == []


def test_apps_destroy(berth, fake_api):
    fake_api.on("DELETE", "/api/v1/tenants/acme/apps/web/", (204, None))

    code, out, _ = berth("apps:destroy", "-t", "acme", "-a", "web", "--confirm", "web")

    assert code == 0
    assert out == "Destroyed web.\n"
    assert [(r.method, r.path) for r in fake_api.requests] == [("DELETE", "/api/v1/tenants/acme/apps/web/")]
