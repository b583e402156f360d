"""run, webhooks, drains and logs:sink verbs against the fake API."""

from .fakeapi import page

RUNS = "/api/v1/tenants/acme/apps/web/runs/"
RUN = {"number": 4, "process": "run.4", "command": ["sh"], "status": "pending", "exit_code": None, "output": ""}


def test_run_waits_prints_the_output_and_exits_with_the_runs_code(berth, fake_api):
    fake_api.on("POST", RUNS, (201, RUN))
    fake_api.on(
        "GET",
        RUNS + "4/",
        {**RUN, "status": "running"},
        {**RUN, "status": "failed", "exit_code": 3, "output": "hello\n", "error": ""},
    )

    code, out, err = berth("run", "-t", "acme", "-a", "web", "--", "sh", "-c", "echo $GREETING; exit 3")

    assert (code, out) == (3, "hello\n")
    assert err == "Running sh -c echo $GREETING; exit 3 on web as run.4...\n"
    assert fake_api.calls("POST")[0].json() == {"command": ["sh", "-c", "echo $GREETING; exit 3"]}
    assert len(fake_api.calls("GET", RUNS + "4/")) == 2


def test_run_that_could_not_start_exits_1_with_the_reason(berth, fake_api):
    fake_api.on("POST", RUNS, (201, {**RUN, "status": "failed", "error": "No Docker host is ready."}))

    code, out, err = berth("run", "-t", "acme", "-a", "web", "--", "true")

    assert (code, out) == (1, "")
    assert err.endswith("No Docker host is ready.\n")


def test_webhooks_add_shows_the_secret_once(berth, fake_api):
    created = {
        "id": 7,
        "url": "https://example.com/h",
        "events": ["release.failed"],
        "active": True,
        "secret": "whsec_x",
    }
    fake_api.on("POST", "/api/v1/tenants/acme/webhooks/", (201, created))

    code, out, _ = berth("webhooks:add", "https://example.com/h", "--events", "release.failed", "-t", "acme")

    assert code == 0
    assert out == "Added webhook 7 for release.failed.\nSecret: whsec_x\n"
    assert fake_api.calls("POST")[0].json() == {"url": "https://example.com/h", "events": ["release.failed"]}


def test_webhooks_deliveries_lists_every_attempt_and_redelivers(berth, fake_api):
    path = "/api/v1/tenants/acme/webhooks/7/deliveries/"
    attempt = {"id": 12, "event": "app.created", "attempt": 2, "status": "failed", "response_code": 500}
    fake_api.on("GET", path, page([{**attempt, "duration_ms": 4, "error": "The receiver answered 500."}]))
    fake_api.on("POST", path + "12/redeliver/", (201, {"id": 13, "event": "app.created"}))

    listed = berth("webhooks:deliveries", "7", "-t", "acme")
    again = berth("webhooks:deliveries", "7", "--redeliver", "12", "-t", "acme")

    assert listed[0] == 0
    assert "app.created  2        failed  500" in listed[1]
    assert again[:2] == (0, "Queued delivery 13 of app.created.\n")


def test_drains_add_list_remove(berth, fake_api):
    path = "/api/v1/tenants/acme/apps/web/drains/"
    drain = {"id": 3, "url": "syslog+tls://logs.example.com:6514", "delivered": 10, "dropped": 2}
    fake_api.on("POST", path, (201, drain))
    fake_api.on("GET", path, page([drain]))
    fake_api.on("DELETE", path + "3/", (204, None))

    added = berth("drains:add", "syslog+tls://logs.example.com:6514", "-t", "acme", "-a", "web")
    listed = berth("drains", "-t", "acme", "-a", "web", "--json")
    removed = berth("drains:remove", "3", "-t", "acme", "-a", "web")

    assert added[:2] == (0, "Added drain 3: web's logs go to syslog+tls://logs.example.com:6514.\n")
    assert '"dropped": 2' in listed[1]
    assert removed[:2] == (0, "Removed drain 3 from web.\n")


def test_logs_sink_sets_opensearch(berth, fake_api):
    path = "/api/v1/tenants/acme/log-sink/"
    sink = {"kind": "opensearch", "url": "https://os.example.com", "index_prefix": "", "retention_days": 7}
    fake_api.on("PUT", path, {**sink, "has_credentials": False})

    code, out, _ = berth("logs:sink", "--opensearch", "https://os.example.com", "-t", "acme")

    assert code == 0
    assert "opensearch" in out
    assert fake_api.calls("PUT")[0].json() == {"url": "https://os.example.com", "index_prefix": ""}
