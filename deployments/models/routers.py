"""The routers (nginx + `manage.py router`) and the version of the routes they serve."""

from django.db import models
from django.utils import timezone


class RoutingState(models.Model):
    """The one row counting changes of what the routers must serve; a switch bumps `version` with its flags."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="routing_state_singleton")]

    def __str__(self) -> str:
        return f"routes v{self.version}"


class RouterNode(models.Model):
    """A router process: the routes version it serves with every worker of an older config gone, and when it last
    said so. A rollout stops old containers only once every live router has drained its switch."""

    name = models.CharField(max_length=200, unique=True)
    drained_version = models.PositiveBigIntegerField(default=0)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
