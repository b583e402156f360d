"""Runs and exec through the real CLI, the real portal under daphne and a real dockerd: terminals on a pty.

Each test drives `cli/berth` as a user would, its terminal a pseudo-terminal the test types into and reads.
"""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import docker
import docker.errors
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync import client as ws_client

from deployments.models import App, Container, ContainerState, DockerHost, Run, RunStatus
from deployments.services.rollouts import deployment_execute, rollout_enqueue
from deployments.services.terminals import GONE, run_attached_create
from deployments.tests.factories import MembershipFactory, web_formation
from deployments.tests.hooks.receivers import run_due_tasks
from deployments.tests.logs.server import Daphne
from tenants.models import AuditEvent, Role
from tenants.services import token_create

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

BERTH = Path(__file__).resolve().parents[3] / "cli" / "berth"
PATIENCE = 120  # a safety net against a hung run on a loaded machine, not a speed assertion


@pytest.fixture
def portal():
    server = Daphne()
    yield server
    server.close()


@pytest.fixture
def live_app(app, make_release, sample_image, docker_engine_url):
    sample_image("httpd")
    DockerHost.objects.create(name="local", engine_url=docker_engine_url, address="127.0.0.1")
    release = make_release(config={"GREETING": "hello from config"}, formation=web_formation(quantity=1))
    App.objects.filter(pk=app.pk).update(current_release=release)
    return app


@pytest.fixture
def engine(docker_engine_url):
    client = docker.DockerClient(base_url=docker_engine_url)
    yield client
    client.close()


def token_of(app, role: str) -> str:
    user = MembershipFactory(tenant=app.tenant, role=role).user
    scopes = ["read"] if role == Role.VIEWER else ["read", "write", "deploy"]
    return token_create(user=user, scopes=scopes)[1]


def cli_env(portal, token: str) -> dict:
    return {"BERTH_URL": portal.origin, "BERTH_TOKEN": token, "PATH": "/usr/bin:/bin", "TERM": "xterm"}


class Terminal:
    """The CLI on a pseudo-terminal of 24 x 80: type into it, read what it shows."""

    def __init__(self, argv: list[str], env: dict):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, str(BERTH), *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.shown = b""

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def wait_for(self, needle: bytes) -> bytes:
        deadline = time.monotonic() + PATIENCE
        while needle not in self.shown:
            assert time.monotonic() < deadline, f"{needle!r} never shown; the terminal showed {self.shown!r}"
            if not self._read(0.5) and self.process.poll() is not None:
                raise AssertionError(f"the CLI exited {self.process.returncode} before {needle!r}: {self.shown!r}")
        return self.shown

    def exit_code(self) -> int:
        deadline = time.monotonic() + PATIENCE
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"the CLI never exited; it showed {self.shown!r}"
            self._read(0.2)
        while self._read(0.1):
            pass
        return self.process.returncode

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: every copy of the slave side is closed
            return False
        self.shown += chunk
        return bool(chunk)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def make(argv: list[str], env: dict) -> Terminal:
        opened.append(Terminal(argv, env))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def gone_from(engine, engine_id: str) -> bool:
    try:
        engine.api.inspect_container(engine_id)
    except docker.errors.NotFound:
        return True
    return False


def test_a_detached_run_prints_the_config_value_and_the_cli_exits_3(live_app, portal, tenant_slug):
    env = cli_env(portal, token_of(live_app, Role.DEVELOPER))
    argv = [
        sys.executable,
        str(BERTH),
        "run",
        "-t",
        tenant_slug,
        "-a",
        "web",
        "--",
        "sh",
        "-c",
        "echo $GREETING; exit 3",
    ]
    cli = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the worker's part: start the run the CLI queued, while the CLI polls for its end
        run_due_tasks(until=lambda: Run.objects.filter(status=RunStatus.FAILED).exists(), timeout=PATIENCE)
        out, err = cli.communicate(timeout=PATIENCE)
    finally:
        cli.kill()

    assert (cli.returncode, out) == (3, "hello from config\n"), err
    assert Run.objects.get().exit_code == 3


def test_an_interactive_run_answers_what_is_typed_and_exits_with_its_code(
    live_app, portal, tenant_slug, terminal, engine
):
    # given
    env = cli_env(portal, token_of(live_app, Role.DEVELOPER))
    script = "read x; echo got-$x; exit 4"
    cli = terminal(["run", "--attach", "-t", tenant_slug, "-a", "web", "--", "sh", "-c", script], env)
    cli.wait_for(b"attached...")  # typed ahead of the connection, and of raw mode, it still reaches the run

    # when
    cli.type(b"hello\r")

    # then
    shown = cli.wait_for(b"got-hello")
    assert cli.exit_code() == 4, shown
    run = Run.objects.get()
    assert (run.attach, run.status, run.exit_code, run.error) == (True, RunStatus.FAILED, 4, "")
    assert "got-hello" in run.output
    attrs = engine.api.inspect_container(run.engine_id)
    assert (attrs["Config"]["Tty"], attrs["Config"]["OpenStdin"]) == (True, True)
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert attrs["Config"]["Labels"]["berth.process"] == "run"
    assert AuditEvent.objects.filter(action="run.create", diff__attach=True).count() == 1


def test_closing_the_client_stops_and_removes_the_container(live_app, portal, tenant_slug, terminal, engine):
    # given: a run that would go on for ten minutes
    env = cli_env(portal, token_of(live_app, Role.DEVELOPER))
    cli = terminal(
        ["run", "--attach", "-t", tenant_slug, "-a", "web", "--", "sh", "-c", "echo up-$((40+2)); sleep 600"], env
    )
    cli.wait_for(b"up-42")  # printed by the run (the command line the CLI echoes says 40+2)
    engine_id = Run.objects.get().engine_id
    assert engine.api.inspect_container(engine_id)["State"]["Running"] is True

    # when: the client dies (its connection closes without a word)
    cli.process.kill()

    # then
    deadline = time.monotonic() + PATIENCE
    while not gone_from(engine, engine_id):
        assert time.monotonic() < deadline, "the run's container outlived its client"
        time.sleep(0.2)
    deadline = time.monotonic() + PATIENCE
    while Run.objects.get().finished_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run = Run.objects.get()
    assert (run.status, run.error) == (RunStatus.FAILED, GONE)
    assert run.exit_code in (137, 143)  # SIGKILL or SIGTERM: the shell was stopped, it did not exit on its own


def test_a_viewer_can_neither_run_nor_attach_to_a_developers_run(live_app, portal, tenant_slug, engine):
    # given: a developer's attached run, its container created and waiting for its terminal
    developer = MembershipFactory(tenant=live_app.tenant, role=Role.DEVELOPER).user
    waiting = run_attached_create(app=live_app, command=["sh"], actor=developer)
    viewer_token = token_of(live_app, Role.VIEWER)

    # when: the viewer tries to start a run of its own, and to attach to the developer's
    refused = subprocess.run(
        [sys.executable, str(BERTH), "run", "--attach", "-t", tenant_slug, "-a", "web", "--", "sh"],
        env=cli_env(portal, viewer_token),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=PATIENCE,
    )
    with pytest.raises(InvalidStatus) as handshake:
        ws_client.connect(
            portal.ws_url(f"/ws/tenants/{tenant_slug}/apps/web/runs/{waiting.number}/"),
            additional_headers={"Authorization": f"Bearer {viewer_token}"},
            open_timeout=PATIENCE,
        )

    # then: refused both, and nothing was created or started
    assert (refused.returncode, refused.stdout) == (1, "")
    assert "does not allow" in refused.stderr
    assert handshake.value.response.status_code == 403
    assert list(Run.objects.values_list("number", "status")) == [(1, RunStatus.PENDING)]
    assert engine.api.inspect_container(waiting.engine_id)["State"]["Status"] == "created"


def test_exec_into_web_1_lists_its_processes_and_a_viewer_is_refused(live_app, portal, tenant_slug, engine, router):
    # given: the app's release rolled out, web.1 running
    release = live_app.releases.get()
    App.objects.filter(pk=live_app.pk).update(current_release=None)  # a release never rolled out yet
    deployment = deployment_execute(deployment_id=rollout_enqueue(release_id=release.pk).pk)
    assert deployment.status == "succeeded", deployment.error
    assert Container.objects.filter(app=live_app, state=ContainerState.RUNNING).count() == 1
    exec_argv = [sys.executable, str(BERTH), "ps:exec", "-t", tenant_slug, "-a", "web", "web.1", "--", "ps"]

    # when
    listed = subprocess.run(
        exec_argv,
        env=cli_env(portal, token_of(live_app, Role.DEVELOPER)),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=PATIENCE,
    )
    refused = subprocess.run(
        exec_argv,
        env=cli_env(portal, token_of(live_app, Role.VIEWER)),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=PATIENCE,
    )

    # then
    assert listed.returncode == 0, listed.stderr
    processes = [line.split(None, 2) for line in listed.stdout.decode().splitlines()]
    assert processes[0] == ["PID", "USER", "COMMAND"]
    commands = [row[2] for row in processes[1:]]
    assert any("httpd -f -p 5000" in command for command in commands), commands  # the app's own server
    assert "ps" in commands
    # An exec is audited before it is created: the one record is the developer's, the viewer's never started.
    assert list(AuditEvent.objects.filter(action="container.exec").values_list("diff", flat=True)) == [
        {"command": ["ps"]}
    ]
    assert (refused.returncode, refused.stdout) == (1, "")
    assert "refused the terminal" in refused.stderr
