"""Background work a service asks for, by task name.

The tasks in `deployments/tasks.py` call services; a service that wants work done later names the task here instead
of importing the tasks module, so the dependency runs one way (tasks -> services). The app's `ready()` imports the
tasks module, which registers every task before any request or worker runs.
"""

from datetime import timedelta

from django.utils import timezone
from django_tasks.base import Task

_tasks: dict[str, Task] = {}


def task_register(task: Task) -> Task:
    """Make a task reachable by its function's name (used as a decorator in deployments/tasks.py)."""
    _tasks[task.name] = task
    return task


def task_enqueue(name: str, *args, delay: int = 0, **kwargs) -> None:
    """Queue the task `name`, at once or `delay` seconds from now."""
    task = _tasks[name]
    if delay:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    task.enqueue(*args, **kwargs)
