"""releases, rollback and ps verbs against the fake API."""

from .fakeapi import page

APP = "/api/v1/tenants/acme/apps/web/"


def test_releases_table_newest_first_as_the_api_sends(berth, fake_api):
    releases = [
        {"version": 2, "status": "succeeded", "summary": "alice set A", "created_by": "alice",
         "created_at": "2026-11-28T02:10:00Z"},
        {"version": 1, "status": "failed", "summary": "build 1", "created_by": None,
         "created_at": "2026-11-28T02:00:00Z"},
    ]  # fmt: skip
    fake_api.on("GET", f"{APP}releases/", page(releases))

    code, out, _ = berth("releases", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "VERSION  STATUS     SUMMARY      BY     CREATED\n"
        "v2       succeeded  alice set A  alice  2026-11-28 02:10:00Z\n"
        "v1       failed     build 1             2026-11-28 02:00:00Z\n"
    )


def test_releases_num_stops_reading_pages(berth, fake_api):
    fake_api.on("GET", f"{APP}releases/", page([{"version": 9}, {"version": 8}], f"{fake_api.url}{APP}releases/?c=1"))

    code, out, _ = berth("releases", "-t", "acme", "-a", "web", "-n", "1", "--json")

    assert code == 0
    assert out == '[\n  {\n    "version": 9\n  }\n]\n'
    assert len(fake_api.requests) == 1


def test_releases_info_takes_vN(berth, fake_api):
    release = {"version": 3, "status": "succeeded", "summary": "x", "config": {"A": "1"}}
    fake_api.on("GET", f"{APP}releases/3/", release)

    code, out, _ = berth("releases:info", "v3", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "version: v3\nstatus:  succeeded\nsummary: x\nconfig:\n  A=1\n"


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


def test_ps_table(berth, fake_api):
    containers = [
        {"id": 41, "process_type": "web", "index": 1, "state": "running", "release": 3, "host": "local",
         "created_at": "2026-11-28T02:00:00Z"},
    ]  # fmt: skip
    fake_api.on("GET", f"{APP}containers/", page(containers))

    code, out, _ = berth("ps", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "ID  PROCESS  STATE    RELEASE  HOST   SINCE\n41  web.1    running  v3       local  2026-11-28 02:00:00Z\n"
    )


def test_ps_scale_patches_the_formation(berth, fake_api):
    formation = {"web": {"quantity": 2, "memory": "256m", "cpu": 0.5, "healthcheck": "/"}}
    fake_api.on("PATCH", f"{APP}formation/", formation)

    code, out, _ = berth("ps:scale", "web=2", "worker=0", "--memory", "256m", "-t", "acme", "-a", "web")

    assert code == 0
    assert fake_api.calls("PATCH")[0].json() == {
        "web": {"quantity": 2, "memory": "256m"},
        "worker": {"quantity": 0, "memory": "256m"},
    }
    assert out == (
        "Scaled web to 2, worker to 0.\n"
        "PROCESS  QUANTITY  MEMORY  CPU  HEALTHCHECK\n"
        "web      2         256m    0.5  /\n"
    )


def test_ps_scale_with_a_bad_quantity_is_a_usage_error(berth, fake_api):
    code, _, err = berth("ps:scale", "web=two", "-t", "acme", "-a", "web")

    assert code == 2
    assert "expected TYPE=N such as web=2, got 'web=two'" in err
    assert fake_api.requests == []


def test_ps_restart(berth, fake_api):
    fake_api.on("POST", f"{APP}containers/41/restart/", (202, {"id": 41, "state": "stopping"}))

    code, out, _ = berth("ps:restart", "41", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "Restarting container 41.\n"
    assert [(r.method, r.path, r.body) for r in fake_api.requests] == [("POST", f"{APP}containers/41/restart/", b"{}")]
