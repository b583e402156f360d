"""ps, ps:scale, ps:restart and deployments against the fake API."""

APP = "/api/v1/tenants/acme/apps/web/"


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
