"""releases, rollback and --wait against the fake API."""

from .fakeapi import page

APP = "/api/v1/tenants/acme/apps/web/"


def test_releases_table_newest_first_as_the_api_sends(berth, fake_api):
    releases = [
        {"version": 2, "status": "succeeded", "summary": "alice set A", "created_by": "alice", "current": True,
         "created_at": "2026-11-28T02:10:00Z"},
        {"version": 1, "status": "failed", "summary": "build 1", "created_by": None,
         "created_at": "2026-11-28T02:00:00Z"},
    ]  # fmt: skip
    fake_api.on("GET", f"{APP}releases/", page(releases))

    code, out, _ = berth("releases", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "VERSION  CURRENT  STATUS     SUMMARY      BY     CREATED\n"
        "v2       *        succeeded  alice set A  alice  2026-11-28 02:10:00Z\n"
        "v1                failed     build 1             2026-11-28 02:00:00Z\n"
    )


def test_releases_num_stops_reading_pages(berth, fake_api):
    fake_api.on("GET", f"{APP}releases/", page([{"version": 9}, {"version": 8}], f"{fake_api.url}{APP}releases/?c=1"))

    code, out, _ = berth("releases", "-t", "acme", "-a", "web", "-n", "1", "--json")

    assert code == 0
    assert out == '[\n  {\n    "version": 9\n  }\n]\n'
    assert len(fake_api.requests) == 1


def test_releases_info_takes_vN(berth, fake_api):
    formation = {"web": {"command": "", "quantity": 2, "memory": "256m", "cpu": 0.5, "healthcheck": "/"}}
    release = {"version": 3, "status": "succeeded", "summary": "x", "config": {"A": "1"}, "formation": formation}
    fake_api.on("GET", f"{APP}releases/3/", release)

    code, out, _ = berth("releases:info", "v3", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "version: v3\nstatus:  succeeded\nsummary: x\n"
        "formation:\n  web: 2 x 256m, cpu 0.5, healthcheck /\n"
        "config:\n  A=1\n"
    )


def test_rollback_posts_the_version(berth, fake_api):
    fake_api.on("POST", f"{APP}rollback/", (201, {"version": 6, "rollback_of": 3}))

    code, out, _ = berth("rollback", "v3", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Rolled back web to v3: released v6.\n"
    assert fake_api.calls("POST")[0].json() == {"version": 3}


def test_rollback_to_a_bad_version_is_a_usage_error(berth, fake_api):
    code, _, err = berth("rollback", "vthree", "-t", "acme", "-a", "web")

    assert code == 2
    assert "expected a release version like v3, got 'vthree'" in err
    assert fake_api.requests == []


def test_config_set_wait_follows_the_release_to_its_end(berth, fake_api):
    fake_api.on("PATCH", f"{APP}config/", (200, {"A": "1"}, {"Berth-Release": "4"}))
    fake_api.on(
        "GET",
        f"{APP}releases/4/",
        {"version": 4, "status": "pending"},
        {"version": 4, "status": "deploying"},
        {"version": 4, "status": "deploying"},
        {"version": 4, "status": "succeeded"},
    )

    code, out, err = berth("config:set", "A=1", "--wait", "--interval", "0", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Set A on web. Released v4.\n"
    assert err == "Release v4: pending\nRelease v4: deploying\nRelease v4: succeeded\n"
    assert len(fake_api.calls("GET", f"{APP}releases/4/")) == 4


def test_rollback_wait_exits_1_when_the_rollout_fails(berth, fake_api):
    fake_api.on("POST", f"{APP}rollback/", (201, {"version": 6, "status": "pending"}))
    fake_api.on(
        "GET", f"{APP}releases/6/", {"version": 6, "status": "failed", "error": "web.1 failed its health check"}
    )

    code, out, err = berth("rollback", "v3", "--wait", "-t", "acme", "-a", "web")

    assert code == 1
    assert out == "Rolled back web to v3: released v6.\n"
    assert err == "Release v6: failed\nerror: release v6 failed: web.1 failed its health check\n"


def test_rollback_without_a_version_goes_back_to_the_previous_succeeded_release(berth, fake_api):
    releases = [
        {"version": 5, "status": "failed", "current": False},
        {"version": 4, "status": "succeeded", "current": True},
        {"version": 3, "status": "failed", "current": False},
        {"version": 2, "status": "succeeded", "current": False},
    ]
    fake_api.on("GET", f"{APP}releases/", page(releases))
    fake_api.on("POST", f"{APP}rollback/", (201, {"version": 6, "rollback_of": 2}))

    code, out, _ = berth("rollback", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Rolled back web to v2: released v6.\n"
    assert fake_api.calls("POST")[0].json() == {"version": 2}


def test_rollback_without_a_version_and_nothing_serving_is_a_usage_error(berth, fake_api):
    fake_api.on("GET", f"{APP}releases/", page([{"version": 1, "status": "pending", "current": False}]))

    code, _, err = berth("rollback", "-t", "acme", "-a", "web")

    assert code == 2
    assert "web has no release serving yet; name the version to roll back to" in err
    assert fake_api.calls("POST") == []
