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
