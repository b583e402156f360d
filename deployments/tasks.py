"""Background tasks (Django Tasks, database queue): they take ids, re-fetch, and call one service."""

from django_tasks import task

from deployments.services import acme, rollouts


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
def certificate_order_run(certificate_id: int) -> None:
    """Order or renew a custom domain's certificate from the ACME directory; a certificate gone is left alone."""
    acme.certificate_order(certificate_id=certificate_id)
