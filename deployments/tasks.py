"""Background tasks (Django Tasks, database queue): they take ids, re-fetch, and call one service."""

from django_tasks import task

from deployments.services import rollouts


@task()
def deployment_run(deployment_id: int) -> None:
    """Execute a queued rollout or scale; a deployment already finished or gone is left alone."""
    rollouts.deployment_execute(deployment_id=deployment_id)


@task()
def app_teardown_run(tenant: str, app: str, containers: list[dict]) -> None:
    """Stop a deleted app's containers and drop its route."""
    from deployments.services.containers import app_teardown

    app_teardown(tenant=tenant, app=app, containers=containers)
    router_sync_run.call()


@task()
def router_sync_run() -> None:
    """Make every router serve the current routes (hostnames, custom domains, routed containers)."""
    from django.db import transaction

    from deployments.services.routes import routes_switch, routing_bump

    with transaction.atomic():
        version = routing_bump()
    routes_switch(version)


@task()
def webhook_fanout_run(tenant_id: int, payload: dict) -> None:
    """Turn an emitted event into one delivery per subscribed webhook."""
    from deployments.services.webhooks import webhook_fanout

    webhook_fanout(tenant_id=tenant_id, payload=payload)


@task()
def delivery_attempt_run(delivery_id: int) -> None:
    """Make one attempt of a webhook delivery; a delivery gone or already done is left alone."""
    from deployments.services.webhooks import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)
