"""Background tasks (Django Tasks, database queue): they take ids, re-fetch, and call one service."""

from django_tasks import task

from deployments.services import rollouts


@task()
def deployment_run(deployment_id: int) -> None:
    """Execute a queued rollout or scale; a deployment already finished or gone is left alone."""
    rollouts.deployment_execute(deployment_id=deployment_id)
