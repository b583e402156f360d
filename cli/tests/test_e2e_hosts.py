"""hosts verbs end to end: staff only."""

import json

import pytest
from django.contrib.auth import get_user_model

from deployments.models import DockerHost, GcRun

from .test_e2e import create_token, portal  # noqa: F401 (the fixture is shared)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def local_host():
    return DockerHost.objects.create(name="local", engine_url="unix:///var/run/docker.sock", address="127.0.0.1")


def test_staff_lists_and_drains_hosts(portal, local_host):  # noqa: F811
    get_user_model().objects.filter(username="alice").update(is_staff=True)
    token = create_token("alice", "read,write,admin")

    listed = portal(token, "hosts", "--json")
    drained = portal(token, "hosts:drain", "local")
    ready = portal(token, "hosts:ready", "local")

    assert [(h["name"], h["status"]) for h in json.loads(listed.stdout)] == [("local", "ready")]
    assert (drained.returncode, drained.stdout) == (0, "Host local is draining.\n")
    assert (ready.returncode, ready.stdout) == (0, "Host local is ready.\n")
    local_host.refresh_from_db()
    assert local_host.status == "ready"


def test_a_tenant_owner_is_not_staff(portal, local_host):  # noqa: F811
    token = create_token("alice", "read,write,admin")

    listed = portal(token, "hosts")
    drained = portal(token, "hosts:drain", "local")

    assert (listed.returncode, listed.stderr) == (1, "error: Only platform staff may do this.\n")
    assert drained.returncode == 1
    local_host.refresh_from_db()
    assert local_host.status == "ready"


@pytest.mark.docker
def test_staff_dry_run_gc_on_the_real_engine_records_a_run_and_removes_nothing(portal, docker_engine_url):  # noqa: F811
    DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1")
    get_user_model().objects.filter(username="alice").update(is_staff=True)
    token = create_token("alice", "read,write,admin")

    result = portal(token, "hosts:gc", "local", "--dry-run", "--json")
    runs = portal(token, "hosts:gc-runs", "local", "--json")

    run = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert (run["host"], run["dry_run"], run["error"]) == ("local", True, "")
    assert [r["id"] for r in json.loads(runs.stdout)] == [run["id"]]
    assert GcRun.objects.get().dry_run is True
