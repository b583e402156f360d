"""releases, rollback and ps verbs against the fake API."""

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


def test_ps_table(berth, fake_api):
    containers = [
        {"id": "3f2a1c0d9e8b", "name": "acme-web-v3-web-1", "host": "local", "process_type": "web", "index": 1,
         "release": 3, "state": "running", "status": "Up 2 minutes", "host_port": 32768, "routed": True},
    ]  # fmt: skip
    fake_api.on("GET", f"{APP}containers/", {"results": containers, "unreachable_hosts": []})

    code, out, err = berth("ps", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "ID            PROCESS  STATE    STATUS        RELEASE  HOST   ROUTED\n"
        "3f2a1c0d9e8b  web.1    running  Up 2 minutes  v3       local  yes\n"
    )
    assert err == ""


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


def test_ps_warns_about_hosts_that_did_not_answer(berth, fake_api):
    answer = {"results": [], "unreachable_hosts": ["edge-2"]}
    fake_api.on("GET", f"{APP}containers/", answer)

    code, out, err = berth("ps", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == "web runs no containers.\n"
    assert err == "warning: hosts not answering, their containers are missing: edge-2\n"


def test_deployments_info_prints_the_steps(berth, fake_api):
    deployment = {
        "id": 7,
        "kind": "rollout",
        "release": 3,
        "status": "failed",
        "progress": 50,
        "error": "web.1 failed its health check",
        "steps": [
            {"name": "plan", "status": "succeeded", "started_at": "2026-11-28T02:00:00Z",
             "finished_at": "2026-11-28T02:00:01Z", "detail": ""},
            {"name": "start", "status": "failed", "started_at": "2026-11-28T02:00:01Z",
             "finished_at": "2026-11-28T02:01:01Z", "detail": "health check"},
        ],
    }  # fmt: skip
    fake_api.on("GET", f"{APP}deployments/7/", deployment)

    code, out, _ = berth("deployments:info", "7", "-t", "acme", "-a", "web")

    assert code == 0
    assert out == (
        "id:       7\n"
        "kind:     rollout\n"
        "release:  v3\n"
        "status:   failed\n"
        "progress: 50%\n"
        "error:    web.1 failed its health check\n"
        "\n"
        "STEP   STATUS     STARTED               FINISHED              DETAIL\n"
        "plan   succeeded  2026-11-28 02:00:00Z  2026-11-28 02:00:01Z\n"
        "start  failed     2026-11-28 02:00:01Z  2026-11-28 02:01:01Z  health check\n"
    )


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


def test_hosts_table_and_drain(berth, fake_api):
    host = {
        "name": "local",
        "status": "ready",
        "engine_url": "unix:///var/run/docker.sock",
        "engine_version": "26.1",
        "running_containers": 3,
        "capacity_containers": 100,
        "is_builder": True,
        "last_heartbeat_at": None,
    }
    fake_api.on("GET", "/api/v1/hosts/", page([host]))
    fake_api.on("PATCH", "/api/v1/hosts/local/", {**host, "status": "draining"})

    listed = berth("hosts")
    drained = berth("hosts:drain", "local")

    assert listed == (
        0,
        "NAME   STATUS  ENGINE                       VERSION  CONTAINERS  BUILDER  HEARTBEAT\n"
        "local  ready   unix:///var/run/docker.sock  26.1     3/100       yes\n",
        "",
    )
    assert drained == (0, "Host local is draining.\n", "")
    assert fake_api.calls("PATCH")[0].json() == {"status": "draining"}
