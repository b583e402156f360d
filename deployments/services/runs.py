"""One-off processes (`berth run`): a container of the app's current release running one command, then exiting.

It gets the release's image and config, the same hardening and limits as the app's web process, labels naming the
process `run` with the run's number as its index (its lines read as run.N in the logs), no published port and no
route. The run is committed first (pending); a task starts it, waits for it within BERTH_RUN_TIMEOUT, and records the
exit code and the end of its output.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine import runs as engine_runs
from deployments.engine.client import EngineError
from deployments.engine.labels import TENANT_LABEL
from deployments.models import App, Run, RunStatus
from deployments.services.hosts import host_spec
from deployments.services.queue import task_enqueue
from deployments.services.releases import app_lock
from deployments.services.rollouts.placement import place
from deployments.services.rollouts.plan import (
    Planned,
    container_name,
    release_env,
    release_image,
    release_processes,
    run_spec,
    tenant_network,
)
from portal.errors import ApplicationError, Conflict, Invalid
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

RUN_PROCESS = "run"
MAX_ARGS = 100


def command_valid(command) -> list[str]:
    """Return `command` when it is a list of 1 to MAX_ARGS non-empty strings; raise Invalid otherwise."""
    if (
        not isinstance(command, list)
        or not command
        or len(command) > MAX_ARGS
        or not all(isinstance(arg, str) and arg for arg in command)
    ):
        raise Invalid("The command is a list of 1 to 100 non-empty strings.", fields={"command": ["Invalid."]})
    return command


@transaction.atomic
def run_create(*, app: App, command: list[str], actor, attach: bool = False) -> Run:
    """Queue `command` as a one-off process of the app's current release (an attached one starts on its terminal)."""
    command_valid(command)
    app = app_lock(app=app)
    release = app.current_release
    if release is None:
        raise Conflict(f"{app.slug} has no release running yet: deploy it first.", code="no_release")
    release_image(release=release)  # a release without an image cannot run anything
    number = (Run.objects.filter(app=app).aggregate(last=Max("number"))["last"] or 0) + 1
    run = Run.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        release=release,
        number=number,
        command=command,
        attach=attach,
        created_by=actor,
    )
    diff = {"command": command, "attach": attach}
    audit_record(actor=actor, tenant=app.tenant, action="run.create", target=run, diff=diff)
    if not attach:
        transaction.on_commit(lambda: task_enqueue("run_execute_run", run_id=run.pk))
    return run


def _finish(run: Run, **fields) -> Run:
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now(), **fields)
    run.refresh_from_db()
    return run


def run_container_spec(*, run: Run):
    """Place the run and say what to start: (host, its EngineSpec, the RunSpec); the tenant's network is ensured."""
    release = run.release
    web = release_processes(release=release).get("web") or {"memory_mb": 256, "cpu": 1.0, "command": ""}
    host = place(app_id=run.app_id, wanted=[(RUN_PROCESS, run.number, web["memory_mb"])])[0]
    planned = Planned(
        process_type=RUN_PROCESS,
        index=run.number,
        host=host,
        name=container_name(release=release, process_type=RUN_PROCESS, index=run.number),
        settings={**web, "command": ""},
    )
    spec = run_spec(release=release, planned=planned, image=release_image(release=release), deployment_id=None)
    spec.command = list(run.command)
    spec.port = None
    spec.healthcheck_command = ""
    spec.env = release_env(release=release, process_type=RUN_PROCESS, port=None)
    engine = host_spec(host)
    tenant = release.app.tenant
    docker_ops.network_ensure(engine, name=tenant_network(tenant=tenant), labels={TENANT_LABEL: tenant.slug})
    return host, engine, spec


def run_execute(*, run_id: int) -> Run | None:
    """Start a pending run, wait for it, record how it ended; a run gone or already started is left alone."""
    with transaction.atomic():
        run = Run.objects.select_for_update(of=("self",)).select_related("release__app__tenant", "release__build")
        run = run.filter(pk=run_id).first()
        if run is None or run.status != RunStatus.PENDING:
            return run
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        host, engine, spec = run_container_spec(run=run)
        engine_id = engine_runs.run_start(engine, spec)
        Run.objects.filter(pk=run.pk).update(host=host, engine_id=engine_id)
        code, output = engine_runs.run_wait(engine, engine_id=engine_id, timeout=settings.BERTH_RUN_TIMEOUT)
    except (EngineError, ApplicationError) as exc:
        message = exc.message
        logger.warning("run %s of %s could not run: %s", run.number, run.app, message)
        return _finish(run, status=RunStatus.FAILED, error=message[:2000])
    error = f"Stopped after {settings.BERTH_RUN_TIMEOUT} s." if code == engine_runs.TIMED_OUT else ""
    status = RunStatus.SUCCEEDED if code == 0 else RunStatus.FAILED
    return _finish(run, status=status, exit_code=code, output=output, error=error)
