"""Background tasks (Django Tasks, database queue): they take ids, re-fetch, and call one service.

Services queue them by name through `deployments.services.queue`, so this module is the only one that imports both.
"""

from django.db import transaction
from django_tasks import task

from deployments.services.builds import build_execute
from deployments.services.containers import app_teardown
from deployments.services.queue import task_register
from deployments.services.rollouts import deployment_execute
from deployments.services.routes import routes_switch, routing_bump


@task_register
@task()
def deployment_run(deployment_id: int) -> None:
    """Execute a queued rollout or scale; a deployment already finished or gone is left alone."""
    deployment_execute(deployment_id=deployment_id)


@task_register
@task()
def app_teardown_run(tenant: str, app: str, containers: list[dict]) -> None:
    """Stop a deleted app's containers and drop its route."""
    app_teardown(tenant=tenant, app=app, containers=containers)
    router_sync_run.call()


@task_register
@task()
def router_sync_run() -> None:
    """Make every router serve the current routes (hostnames, custom domains, routed containers)."""
    with transaction.atomic():
        version = routing_bump()
    routes_switch(version)


@task_register
@task(queue_name="builds")
def build_run(build_id: int) -> None:
    """Run the build `build_id` on the "builds" queue, so a long build never holds up rollouts.

    A build that is gone or no longer pending is left alone.
    """
    build_execute(build_id=build_id)
