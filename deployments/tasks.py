"""Background tasks (Django Tasks, database queue): they take ids, re-fetch, and call one service.

Services queue them by name through `deployments.services.queue`, so this module is the only one that imports both.
"""

from django.db import Error, connection, transaction
from django_tasks import task

from deployments.services.acme import certificate_order
from deployments.services.builds import build_execute
from deployments.services.containers import app_teardown
from deployments.services.queue import task_register
from deployments.services.rollouts import deployment_execute
from deployments.services.routes import routes_switch, routing_bump
from deployments.services.runs import run_execute
from deployments.services.webhooks import delivery_attempt, webhook_fanout


@task_register
@task()
def deployment_run(deployment_id: int) -> None:
    """Execute a queued rollout or scale; a deployment already finished or gone is left alone.

    When the database session is cut mid-way (a restart, pg_terminate_backend), the app's lock went with it, so the
    deployment is the reconciler's to converge now: this worker only drops the broken connection, so that recording
    the task's failure and the next task open a new one.
    """
    try:
        deployment_execute(deployment_id=deployment_id)
    except Error:
        connection.close()
        raise


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


@task_register
@task()
def certificate_order_run(certificate_id: int) -> None:
    """Order or renew a custom domain's certificate from the ACME directory; a certificate gone is left alone."""
    certificate_order(certificate_id=certificate_id)


@task_register
@task()
def webhook_fanout_run(tenant_id: int, payload: dict) -> None:
    """Turn an emitted event into one delivery per subscribed webhook."""
    webhook_fanout(tenant_id=tenant_id, payload=payload)


@task_register
@task()
def delivery_attempt_run(delivery_id: int) -> None:
    """Make one attempt of a webhook delivery; a delivery gone or already done is left alone."""
    delivery_attempt(delivery_id=delivery_id)


@task_register
@task()
def run_execute_run(run_id: int) -> None:
    """Run a queued one-off process to its end; a run gone or already started is left alone."""
    run_execute(run_id=run_id)
