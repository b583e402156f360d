"""hosts verbs (staff) against the fake API."""

from .fakeapi import page


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


def test_hosts_gc_dry_run_lists_what_it_would_remove(berth, fake_api):
    run = {
        "id": 3,
        "host": "local",
        "dry_run": True,
        "removed": {
            "containers": [{"id": "aa11bb22cc33", "name": "acme-web-v1-web-1", "app": "acme/web"}],
            "images": [{"id": "dd44ee55ff66", "tags": [], "size_bytes": 1572864, "reason": "dangling"}],
            "errors": [],
        },
        "bytes_reclaimed": 1572864,
        "error": "",
    }
    fake_api.on("POST", "/api/v1/hosts/local/gc/", (201, run))

    code, out, err = berth("hosts:gc", "local", "--dry-run")

    assert code == 0
    assert fake_api.calls("POST")[0].json() == {"dry_run": True}
    assert out == (
        "container aa11bb22cc33  acme-web-v1-web-1  acme/web\n"
        "image     dd44ee55ff66  <none>  1.5 MiB  dangling\n"
        "GC of local: would remove 1 containers and 1 images, would reclaim 1.5 MiB.\n"
    )
    assert err == ""


def test_hosts_gc_runs_table(berth, fake_api):
    runs = [{"id": 2, "dry_run": False, "removed": {"images": [{}, {}]}, "bytes_reclaimed": 2048, "error": "",
             "created_at": "2026-11-28T02:00:00Z"}]  # fmt: skip
    fake_api.on("GET", "/api/v1/hosts/local/gc/", page(runs))

    code, out, _ = berth("hosts:gc-runs", "local")

    assert code == 0
    assert out == (
        "ID  WHEN                  SUMMARY                                             ERROR\n"
        "2   2026-11-28 02:00:00Z  removed 0 containers and 2 images, reclaimed 2 KiB\n"
    )
    assert fake_api.requests[0].query == {"limit": "20"}
