"""What the reconciler knows of each app: desired against running, its last repair, and a crash loop's back-off."""

from django.db import models


class RepairState(models.TextChoices):
    OK = "ok", "Running as desired"
    REPAIRING = "repairing", "A repair is queued or running"
    BACKING_OFF = "backing_off", "Containers keep dying: the next repair waits"


class AppRepair(models.Model):
    """The reconciler's view of one app, written at each of its passes (one row per app, made on first need)."""

    app = models.OneToOneField("deployments.App", on_delete=models.CASCADE, related_name="repair")
    state = models.CharField(max_length=16, choices=RepairState.choices, default=RepairState.OK)
    desired = models.PositiveIntegerField(default=0)
    running = models.PositiveIntegerField(default=0)
    # Repairs counted while each comes within BERTH_REPAIR_WINDOW of the previous one: a crash loop's length.
    streak = models.PositiveIntegerField(default=0)
    repairs = models.PositiveIntegerField(default=0, help_text="Repairs queued since the app was created.")
    replaced = models.PositiveIntegerField(default=0, help_text="Containers found dead or gone and replaced.")
    next_repair_at = models.DateTimeField(null=True, blank=True)
    last_repair_at = models.DateTimeField(null=True, blank=True)
    last_repair = models.TextField(blank=True)
    last_deployment = models.ForeignKey(
        "deployments.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_exit_code = models.IntegerField(null=True, blank=True)
    last_restart_count = models.PositiveIntegerField(default=0)
    last_output = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.app} {self.state} {self.running}/{self.desired}"
