"""Terminals: an attached one-off run (`berth run --attach`) and an exec in a running container (`berth ps:exec`).

An attached run is committed like any run, then its container is created with a tty and an open stdin but not
started: the WebSocket that attaches to it starts it, so nothing it prints is missed. The run's creator alone may
attach, once. When the client goes away first, the container is stopped and removed and the run records that; when
the process exits first, its exit code is recorded and the exited container is left for garbage collection (the
collector reads its output to the end). An exec is audited before it starts.
"""

import logging

from django.db import transaction
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine import runs as engine_runs
from deployments.engine import terminals as engine_terminals
from deployments.engine.client import EngineError
from deployments.engine.terminals import Terminal
from deployments.models import App, Container, Run, RunStatus
from deployments.services.hosts import host_spec
from deployments.services.runs import command_valid, run_container_spec, run_create
from portal.errors import ApplicationError, Conflict, NotFound, Unavailable
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

OUTPUT_BYTES = engine_runs.OUTPUT_BYTES
STOP_GRACE = 1  # an interactive shell ignores SIGTERM: it gets a second, then SIGKILL
GONE = "Stopped: its terminal was closed."


def _record(run: Run, **fields) -> Run:
    Run.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


def run_attached_create(*, app: App, command: list[str], actor) -> Run:
    """Commit an attached run and create its container (tty, open stdin), waiting for its terminal to start it."""
    run = run_create(app=app, command=command, actor=actor, attach=True)
    try:
        host, engine, spec = run_container_spec(run=run)
        engine_id = engine_runs.run_start(engine, spec, tty=True)
    except (EngineError, ApplicationError) as exc:
        logger.warning("run %s of %s could not be created: %s", run.number, app, exc.message)
        return _record(run, status=RunStatus.FAILED, error=exc.message[:2000], finished_at=timezone.now())
    return _record(run, host=host, engine_id=engine_id)


def run_attach(*, run: Run, actor, cols: int, rows: int) -> Terminal:
    """Start an attached run on its terminal: its creator only, once, while it waits."""
    with transaction.atomic():
        locked = Run.objects.select_for_update(of=("self",)).filter(pk=run.pk).select_related("host").first()
        if locked is None or locked.created_by_id != getattr(actor, "pk", None):
            raise NotFound(f"No run {run.number} of this app.")
        if not locked.attach or locked.status != RunStatus.PENDING or not locked.engine_id or locked.host is None:
            raise Conflict(f"Run {run.number} is not waiting for its terminal ({locked.status}).", code="not_waiting")
        locked.status = RunStatus.RUNNING
        locked.started_at = timezone.now()
        locked.save(update_fields=["status", "started_at"])
    try:
        return engine_terminals.run_attach(host_spec(locked.host), engine_id=locked.engine_id, cols=cols, rows=rows)
    except EngineError as exc:
        _record(locked, status=RunStatus.FAILED, error=exc.message[:2000], finished_at=timezone.now())
        raise Unavailable(exc.message) from exc


def run_attached_end(*, run: Run, terminal: Terminal, output: bytes, stop: str = "") -> Run:
    """Record how an attached run ended. With `stop` (why), stop and remove its container first."""
    code = None
    try:
        if stop:
            docker_ops.container_stop(terminal.engine, engine_id=terminal.engine_id, grace=STOP_GRACE, remove=False)
        code = terminal.wait()
    except EngineError as exc:
        stop = stop or exc.message
    finally:
        terminal.close()
    if stop:
        try:
            docker_ops.container_remove(terminal.engine, engine_id=terminal.engine_id)
        except EngineError as exc:
            logger.warning("run %s: its container could not be removed (the reconciler will): %s", run.pk, exc)
    status = RunStatus.SUCCEEDED if code == 0 and not stop else RunStatus.FAILED
    text = bytes(output[-OUTPUT_BYTES:]).decode("utf-8", "replace")
    return _record(run, status=status, exit_code=code, output=text, error=stop[:2000], finished_at=timezone.now())


def container_exec_open(*, app: App, container: Container, command: list[str], actor, cols: int, rows: int):
    """Start `command` on a tty in one of the app's running containers; audited before it starts."""
    command = command_valid(command)
    audit_record(actor=actor, tenant=app.tenant, action="container.exec", target=container, diff={"command": command})
    try:
        return engine_terminals.exec_open(
            host_spec(container.host), engine_id=container.engine_id, command=command, cols=cols, rows=rows
        )
    except EngineError as exc:
        raise Unavailable(exc.message) from exc


def container_exec_end(*, terminal: Terminal) -> int | None:
    """Close an exec's terminal; return its process's exit code (None when it still ran)."""
    try:
        return terminal.exit_code()
    except EngineError:
        return None
    finally:
        terminal.close()
