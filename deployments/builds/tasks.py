"""The build task: runs on the "builds" queue so a long build never holds up rollouts."""

from django_tasks import task

from deployments.services.builds import build_execute


@task(queue_name="builds")
def build_run(build_id: int) -> None:
    """Run the build `build_id`; a build that is gone or no longer pending is left alone."""
    build_execute(build_id=build_id)
