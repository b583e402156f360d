"""This Berth installation, as distinct from any other that shares its Docker engines."""

from django.db import models
from django.utils import timezone


class Installation(models.Model):
    """The one row naming this installation: its `uid` labels every container it starts (`berth.installation`).

    Several installations (or test runs, each with its own database) can share an engine; the reconciler removes
    only orphans that carry its own uid. Created on first use, so two databases never share it.
    """

    uid = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="installation_singleton")]

    def __str__(self) -> str:
        return self.uid
