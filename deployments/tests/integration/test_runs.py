"""One-off runs on a real dockerd: the release's image and config, the hardening, the exit code, the logs as run.N."""

import time

import docker
import pytest

from deployments import crypto
from deployments.engine import gc as engine_gc
from deployments.engine import secret_files
from deployments.engine.client import EngineSpec
from deployments.logs.collector import Collector
from deployments.models import App, DockerHost, LogLine, Run
from deployments.tests.factories import MembershipFactory
from deployments.tests.hooks.receivers import run_due_tasks
from tenants.models import Role

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_app(app, make_release, sample_image, docker_engine_url):
    sample_image("httpd")
    DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1")
    release = make_release(
        config={"GREETING": "hello from config", "TOKEN": {"value": crypto.encrypt("s3cret"), "secret": True}}
    )
    App.objects.filter(pk=app.pk).update(current_release=release)
    return app


def test_a_run_prints_the_config_exits_3_and_its_lines_reach_the_logs_as_run_1(
    live_app, api, docker_engine_url, tenant_slug
):
    # given
    developer = MembershipFactory(tenant=live_app.tenant, role=Role.DEVELOPER).user
    client = api(developer)
    runs = f"/api/v1/tenants/{tenant_slug}/apps/web/runs/"
    collector = Collector(EngineSpec(name="local", url=docker_engine_url)).start()
    try:
        # when
        created = client.post(
            runs, {"command": ["sh", "-c", 'echo "$GREETING"; echo "$TOKEN" >&2; exit 3']}, format="json"
        )
        run_due_tasks()
        shown = client.get(f"{runs}1/").json()
        deadline = time.monotonic() + 30
        while LogLine.objects.filter(app=live_app, process="run").count() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        collector.stop()

    # then
    assert created.status_code == 201, created.json()
    assert (created.json()["number"], created.json()["process"], created.json()["status"]) == (1, "run.1", "pending")
    assert (shown["status"], shown["exit_code"], shown["release"]) == ("failed", 3, 1), shown["error"]
    assert sorted(shown["output"].splitlines()) == ["hello from config", "s3cret"]  # two streams, either order
    lines = LogLine.objects.filter(app=live_app, process="run").order_by("cursor")
    assert sorted((line.index, line.stream, line.line) for line in lines) == [
        (1, "stderr", "s3cret"),
        (1, "stdout", "hello from config"),
    ]
    engine = docker.DockerClient(base_url=docker_engine_url)
    try:
        attrs = engine.api.inspect_container(Run.objects.get().engine_id)
    finally:
        engine.close()
    host_config = attrs["HostConfig"]
    assert (host_config["CapDrop"], host_config["Privileged"], host_config["Init"]) == (["ALL"], False, True)
    assert host_config["SecurityOpt"] == ["no-new-privileges:true"]
    assert host_config["PortBindings"] in (None, {})
    assert host_config["Memory"] == 64 * 1024 * 1024  # the web process's limit (web_formation())
    assert attrs["Config"]["Labels"]["berth.process"] == "run"
    assert attrs["Config"]["Labels"]["berth.index"] == "1"


def test_a_successful_run_and_the_list(live_app, api, tenant_slug):
    developer = MembershipFactory(tenant=live_app.tenant, role=Role.DEVELOPER).user
    client = api(developer)
    runs = f"/api/v1/tenants/{tenant_slug}/apps/web/runs/"

    client.post(runs, {"command": ["true"]}, format="json")
    client.post(runs, {"command": ["sh", "-c", "echo $BERTH_PROCESS"]}, format="json")
    run_due_tasks()
    listed = client.get(runs).json()["results"]

    assert [(row["number"], row["status"], row["exit_code"], row["output"]) for row in listed] == [
        (2, "succeeded", 0, "run\n"),
        (1, "succeeded", 0, ""),
    ]


def test_a_run_reads_the_releases_secret_files_and_its_holder_goes_when_it_ends(
    app, make_release, sample_image, api, docker_engine_url, tenant_slug
):
    # given
    sample_image("httpd")
    DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1")
    secret = {"value": crypto.encrypt("run-file-canary"), "secret": True, "file": "/run/secrets/key"}
    App.objects.filter(pk=app.pk).update(current_release=make_release(config={"KEY": secret}))
    client = api(MembershipFactory(tenant=app.tenant, role=Role.DEVELOPER).user)
    runs = f"/api/v1/tenants/{tenant_slug}/apps/web/runs/"

    # when
    created = client.post(runs, {"command": ["sh", "-c", 'cat /run/secrets/key; echo; echo "[$KEY]"']}, format="json")
    run_due_tasks()
    shown = client.get(f"{runs}1/").json()

    # then
    assert created.status_code == 201, created.json()
    assert (shown["status"], shown["exit_code"]) == ("succeeded", 0), shown["error"]
    assert shown["output"].splitlines() == ["run-file-canary", "[]"]
    engine = docker.DockerClient(base_url=docker_engine_url, timeout=60)
    run = Run.objects.get(app=app, number=1)
    assert engine.api.containers(all=True, filters={"label": f"berth.secrets-of={run.engine_id}"}) == []
    [volume] = secret_files.volumes_of(engine.api.inspect_container(run.engine_id))
    # and garbage collection's removal of the exited run takes its secret volume with it
    engine_gc.container_remove(EngineSpec(name="local", url=docker_engine_url), engine_id=run.engine_id)
    names = {v["Name"] for v in engine.api.volumes(filters={"label": "berth.secrets"})["Volumes"] or []}
    engine.close()
    assert volume not in names
