"""The steps of a deployment, as the coordinating thread runs them: prepare, release phase, start, switch, drain.

Each step records its outcome in the database itself. Engine work fans out to pool threads (rollouts/containers.py),
which only return results; the coordinating thread is the one that writes them down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from deployments.engine import containers as docker_ops
from deployments.engine import images as docker_images
from deployments.engine.client import EngineError
from deployments.engine.labels import TENANT_LABEL
from deployments.models import (
    LIVE_STATES,
    App,
    Container,
    ContainerState,
    Deployment,
    DockerHost,
    HostStatus,
    Release,
    ReleaseStatus,
)
from deployments.router import RouterError
from deployments.services import routes
from deployments.services.hosts import host_spec
from deployments.services.rollouts.containers import (
    containers_stop,
    pool,
    remove_by_name,
    remove_quietly,
    start_and_check,
)
from deployments.services.rollouts.errors import RolloutFailed, Superseded
from deployments.services.rollouts.plan import (
    WEB,
    Plan,
    Planned,
    container_name,
    release_env,
    run_spec,
    tenant_network,
)
from deployments.services.webhooks import webhook_release_event
from tenants.audit import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)

RELEASE_COMMAND_TIMEOUT = 600
# How often the coordinating thread looks whether a newer deployment superseded the one it starts containers for.
SUPERSEDE_POLL = 0.5


def on_hosts(hosts: Iterable[DockerHost], action: Callable[[DockerHost], None]) -> None:
    """Run `action` on every host at once; raise the first failure."""
    hosts = list(hosts)
    with pool(len(hosts)) as executor:
        futures = [executor.submit(action, host) for host in hosts]
    for future in futures:
        if future.exception() is not None:
            raise future.exception()


def image_unreachable(*, image: str) -> dict[int, str]:
    """Ask every ready host at once whether it can get `image`; return {host id: why not} for those that cannot.

    A host that does not answer cannot get it either; the heartbeat will mark it down.
    """
    hosts = list(DockerHost.objects.standalone().filter(status=HostStatus.READY))
    if not hosts:
        return {}

    def ask(host: DockerHost) -> str:
        try:
            return docker_images.image_reachable(host_spec(host), image=image)
        except EngineError as exc:
            return exc.message

    with pool(len(hosts)) as executor:
        answers = dict(zip((host.pk for host in hosts), executor.map(ask, hosts), strict=True))
    return {pk: why for pk, why in answers.items() if why}


def network_ensure(*, host: DockerHost, tenant: Tenant) -> None:
    docker_ops.network_ensure(host_spec(host), name=tenant_network(tenant=tenant), labels={TENANT_LABEL: tenant.slug})


def hosts_prepare(*, plan: Plan, tenant: Tenant) -> None:
    """Put the image and the tenant's network on every host the plan starts containers on."""
    hosts = {planned.host.pk: planned.host for planned in plan.new}

    def prepare(host: DockerHost) -> None:
        docker_ops.image_ensure(host_spec(host), image=plan.image)
        network_ensure(host=host, tenant=tenant)

    on_hosts(hosts.values(), prepare)


def release_phase(*, deployment: Deployment, plan: Plan) -> None:
    """Run the release command once, in a one-off container on the first planned host; its failure stops the rollout."""
    release = deployment.release
    first = plan.new[0]
    planned = Planned(
        process_type="release",
        index=0,
        host=first.host,
        name=container_name(release=release, process_type="release", index=0),
        settings={**first.settings, "command": release.release_command},
    )
    spec = run_spec(release=release, planned=planned, image=plan.image, deployment_id=deployment.pk)
    spec.port = None
    spec.env = release_env(release=release, process_type="release", port=None)
    code, output = docker_ops.oneoff_run(host_spec(first.host), spec, timeout=RELEASE_COMMAND_TIMEOUT)
    if code != 0:
        raise RolloutFailed(
            f"The release command `{release.release_command}` exited with status {code}; the new release "
            f"was not started. Its output: {output or '(none)'}"
        )


def _record_started(row_id: int, started: docker_ops.Started) -> None:
    Container.objects.filter(pk=row_id).update(
        engine_id=started.engine_id, host_port=started.host_port, ip=started.ip, updated_at=timezone.now()
    )


def containers_start(*, deployment: Deployment, plan: Plan, superseded: Callable[[], bool]) -> Plan:
    """Record, start and health-check the planned containers in parallel; the first failure stops them all.

    Returns the plan with each container's row id. A container's engine id is recorded as soon as the engine
    created it, so a crash or a supersede later still finds it.
    """
    with transaction.atomic():
        new = []
        for planned in plan.new:
            row = Container.objects.create(
                host=planned.host,
                app=deployment.app,
                release=deployment.release,
                deployment=deployment,
                process_type=planned.process_type,
                index=planned.index,
                name=planned.name,
                memory_mb=planned.settings["memory_mb"],
                state=ContainerState.STARTING,
            )
            new.append(replace(planned, row_id=row.pk))
    plan = replace(plan, new=tuple(new))
    specs = {
        planned.row_id: run_spec(
            release=deployment.release, planned=planned, image=plan.image, deployment_id=deployment.pk
        )
        for planned in plan.new
    }
    # Pool threads hand over what the engine created; only this thread writes it to the database.
    created: queue.SimpleQueue[tuple[int, docker_ops.Started]] = queue.SimpleQueue()
    abort = threading.Event()

    def record_created() -> None:
        while True:
            try:
                row_id, started = created.get_nowait()
            except queue.Empty:
                return
            _record_started(row_id, started)

    failure: BaseException | None = None
    with pool(len(plan.new)) as executor:
        futures = {
            executor.submit(
                start_and_check,
                planned=planned,
                engine=host_spec(planned.host),
                spec=specs[planned.row_id],
                cancelled=abort.is_set,
                on_started=lambda planned, started: created.put((planned.row_id, started)),
            ): planned
            for planned in plan.new
        }
        pending = set(futures)
        next_look = time.monotonic() + SUPERSEDE_POLL
        while pending:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
            record_created()
            for future in done:
                if future.exception() is not None and failure is None:
                    failure = future.exception()
                    abort.set()
            if failure is None and pending and time.monotonic() >= next_look:
                next_look = time.monotonic() + SUPERSEDE_POLL
                if superseded():
                    failure = Superseded()
                    abort.set()
    record_created()
    if isinstance(failure, Superseded):
        raise failure
    if failure is not None:
        raise RolloutFailed(str(failure)) from failure
    Container.objects.filter(pk__in=[p.row_id for p in plan.new]).update(
        state=ContainerState.RUNNING, updated_at=timezone.now()
    )
    return plan


def new_remove(*, deployment: Deployment) -> None:
    """Take away every container this deployment started (the rollout did not reach the router switch)."""
    rows = list(Container.objects.filter(deployment=deployment, state__in=LIVE_STATES).select_related("host"))
    with pool(len(rows) or 1) as executor:
        for row in rows:
            if row.engine_id:
                executor.submit(remove_quietly, host=row.host, engine_id=row.engine_id)
            else:
                executor.submit(remove_by_name, host=row.host, deployment_id=deployment.pk, name=row.name)
    Container.objects.filter(pk__in=[row.pk for row in rows]).update(
        state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
    )


def containers_retire(
    containers: Iterable[Container], *, stop: Callable[[list[Container]], list[str]] = containers_stop
) -> list[str]:
    """Stop and remove containers on their engines (with `stop`: a cluster's are its services'), and record them
    exited; return the errors met."""
    containers = list(containers)
    errors = stop(containers)
    _record_exited(containers)
    return errors


def _record_exited(containers: list[Container]) -> None:
    Container.objects.filter(pk__in=[c.pk for c in containers]).update(
        state=ContainerState.EXITED, routed=False, updated_at=timezone.now()
    )


def router_switch(*, deployment: Deployment, leaving: Iterable[Container]) -> None:
    """Send traffic to the deployment's web containers only; return once no request can still reach `leaving`."""
    with transaction.atomic():
        Container.objects.filter(pk__in=[c.pk for c in leaving]).update(routed=False)
        Container.objects.filter(deployment=deployment, process_type=WEB).update(routed=True)
        version = routes.routing_bump(app_ids=[deployment.app_id])
    # Every router serves the new containers only, and the router workers its reload replaced (which know only the
    # old containers) have finished the requests they held.
    routes.routes_switch(version)


def router_unswitch(*, deployment: Deployment, old: Iterable[Container]) -> None:
    """Send traffic back to the old web containers (a rollout failed after its switch)."""
    with transaction.atomic():
        Container.objects.filter(deployment=deployment).update(routed=False)
        Container.objects.filter(pk__in=[c.pk for c in old if c.process_type == WEB]).update(routed=True)
        version = routes.routing_bump(app_ids=[deployment.app_id])
    try:
        routes.routes_switch(version)
    except RouterError:
        logger.exception("router could not be restored after the failed rollout %s", deployment.pk)


def release_done(*, release: Release, status: str, error: str, pending: bool = False) -> None:
    """Record how the release's rollout ended (with `pending`, only if no other rollout of it began)."""
    releases = Release.objects.filter(pk=release.pk)
    if pending:
        releases = releases.filter(status=ReleaseStatus.PENDING)
    if releases.update(status=status, error=error[:5000], finished_at=timezone.now()):
        webhook_release_event(release=release, status=status, error=error)


def old_drain(
    *, deployment: Deployment, plan: Plan, stop: Callable[[list[Container]], list[str]] = containers_stop
) -> list[str]:
    """Stop the old containers (with `stop`: a cluster's are its services'); meanwhile the release is recorded as
    the app's current one. Return the errors met."""
    with pool(1) as executor:
        stopping = executor.submit(stop, list(plan.leaving))
        with transaction.atomic():
            App.objects.filter(pk=deployment.app_id).update(
                current_release=deployment.release, updated_at=timezone.now()
            )
            release_done(release=deployment.release, status=ReleaseStatus.SUCCEEDED, error="")
            audit_record(
                actor=None,
                tenant=deployment.app.tenant,
                action="release.deploy",
                target=deployment.release,
                diff={"deployment": deployment.pk, "containers": len(plan.new)},
            )
        errors = stopping.result()
    _record_exited(list(plan.leaving))
    return errors
