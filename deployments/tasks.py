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
    from deployments.services.routes import router_sync

    app_teardown(tenant=tenant, app=app, containers=containers)
    router_sync()


@task()
def router_sync_run() -> None:
    """Apply the current routes (hostnames, custom domains, routed containers) to the router."""
    from deployments.services.routes import router_sync

    router_sync()
