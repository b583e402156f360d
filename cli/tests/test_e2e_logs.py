"""`berth logs` end to end against the live portal and its database log sink."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deployments.logs.records import make_cursor
from deployments.models import App, LogLine
from tenants.models import Tenant

from .test_e2e import BERTH, create_token, portal  # noqa: F401 (the fixture is shared)

pytestmark = pytest.mark.django_db(transaction=True)
BASE_NS = 1_795_000_000_000_000_000
REPO_DIR = Path(__file__).resolve().parents[2]


def add_line(app: App, second: int, text: str, process: str = "web") -> None:
    timestamp_ns = BASE_NS + second * 1_000_000_000
    LogLine.objects.create(
        tenant=app.tenant,
        app=app,
        cursor=make_cursor(timestamp_ns, "3f2a1c0d9e8b77aa", "stdout", 0),
        release=1,
        process=process,
        index=1,
        container="3f2a1c0d9e8b77aa",
        stream="stdout",
        timestamp=datetime.fromtimestamp(timestamp_ns / 1e9, tz=UTC),
        line=text,
    )


@pytest.fixture
def web(portal):  # noqa: F811 (pytest fixture injection)
    app = App.objects.create(tenant=Tenant.objects.get(slug="acme"), slug="web")
    for second, text, process in [(1, "GET / 200", "web"), (2, "tick", "worker"), (3, "GET /x 404", "web")]:
        add_line(app, second, text, process)
    return app


def test_logs_prints_the_newest_lines_with_filters(portal, web):  # noqa: F811
    token = create_token("alice", "read")

    last_two = portal(token, "logs", "-n", "2", "-t", "acme", "-a", "web")
    web_only = portal(token, "logs", "--process", "web", "--grep", "GET", "-t", "acme", "-a", "web")

    assert last_two.returncode == 0
    assert [text.split(": ", 1)[1] for text in last_two.stdout.splitlines()] == ["tick", "GET /x 404"]
    assert last_two.stdout.splitlines()[0].split(" ", 2)[2] == "worker.1[3f2a1c0d9e8b]: tick"
    assert [text.split(": ", 1)[1] for text in web_only.stdout.splitlines()] == ["GET / 200", "GET /x 404"]


def test_logs_of_another_tenants_app_is_not_found(portal, web):  # noqa: F811
    token = create_token("bob", "read")

    result = portal(token, "logs", "-t", "acme", "-a", "web")

    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: Not found.\n")


def test_tail_follows_new_lines_over_http(live_server, web, tmp_path):
    token = create_token("alice", "read")
    env = {"BERTH_URL": live_server.url, "BERTH_TOKEN": token, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(BERTH), "logs", "--tail", "-n", "1", "-t", "acme", "-a", "web", "--interval", "0.1"]
    cli = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, cli.kill)  # a safety net against a hung run, not an assertion on speed
    guard.start()
    try:
        first = cli.stdout.readline()
        add_line(web, 4, "new line")
        second = cli.stdout.readline()
    finally:
        cli.terminate()
        _, err = cli.communicate()
        guard.cancel()

    assert first.rstrip("\n").split(": ", 1)[1] == "GET /x 404"
    assert second.rstrip("\n").split(": ", 1)[1] == "new line"
    assert "polling instead" in err


@pytest.fixture
def asgi_portal(transactional_db):
    """The portal under daphne (WebSockets included) in a subprocess, on the test database."""
    from django.db import connection

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": database_url}
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    event = threading.Event()
    deadline = time.monotonic() + 60
    while daphne.poll() is None:
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline:
            daphne.kill()
            pytest.fail(f"daphne did not listen on port {port} within 60 s:\n{daphne.communicate()[1]}")
        event.wait(0.1)
    assert daphne.poll() is None, daphne.stderr.read()
    yield f"http://127.0.0.1:{port}"
    daphne.terminate()
    daphne.communicate(timeout=30)


def test_tail_reads_the_real_websocket_with_a_bearer_token(asgi_portal, portal, web):  # noqa: F811
    token = create_token("alice", "read")
    env = {"BERTH_URL": asgi_portal, "BERTH_TOKEN": token, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(BERTH), "logs", "--tail", "-n", "2", "-t", "acme", "-a", "web", "--json"]
    cli = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, cli.kill)  # a safety net against a hung run, not an assertion on speed
    guard.start()
    try:
        printed = [json.loads(cli.stdout.readline() or "null") for _ in range(2)]
    finally:
        cli.terminate()
        _, err = cli.communicate()
        guard.cancel()

    assert [line["line"] for line in printed] == ["tick", "GET /x 404"], err
    assert "polling" not in err


def test_tail_of_another_tenants_app_is_refused_by_the_websocket(asgi_portal, portal, web):  # noqa: F811
    token = create_token("bob", "read")
    env = {"BERTH_URL": asgi_portal, "BERTH_TOKEN": token, "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, str(BERTH), "logs", "--tail", "-t", "acme", "-a", "web"]

    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1
    assert result.stderr == "error: the log stream refused the connection: no such app, or your token cannot read it.\n"
