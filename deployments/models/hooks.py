"""What reaches out of Berth on a tenant's behalf: webhooks with each delivery attempt, and per-app log drains."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from deployments.models.apps import App
from tenants.models import Tenant


class Webhook(models.Model):
    """A tenant's subscription: Berth POSTs the events it names to `url`, signed with `secret` (shown once)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event names, e.g. release.succeeded.")
    secret = models.TextField(help_text="The signing secret, encrypted with deployments.crypto.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.tenant} -> {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One attempt to deliver one event to one webhook; a retry or a redelivery is a new row of the same event."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=60)
    event_id = models.UUIDField(default=uuid.uuid4, help_text="The same for every attempt of one event.")
    payload = models.JSONField()
    attempt = models.PositiveIntegerField(default=1)
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    scheduled_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["webhook", "-id"], name="delivery_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} -> {self.webhook_id}: {self.status}"


class Drain(models.Model):
    """Where an app's log lines are forwarded as they are stored: syslog over TCP or TLS, or HTTPS batches."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="drains")
    url = models.CharField(max_length=500)
    ca_certificate = models.TextField(blank=True, help_text="PEM of a CA to trust besides the system's (TLS, HTTPS).")
    dropped = models.BigIntegerField(default=0, help_text="Lines dropped because the receiver stayed unreachable.")
    delivered = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["app", "url"], name="drain_unique_url_per_app")]

    def __str__(self) -> str:
        return f"{self.app} -> {self.url}"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"  # exited 0
    FAILED = "failed", "Failed"  # exited non-zero, timed out, or could not start


class Run(models.Model):
    """A one-off process of an app's current release (`heroku run`): who ran what, where, and how it ended."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="runs")
    release = models.ForeignKey("deployments.Release", on_delete=models.PROTECT, related_name="runs")
    number = models.PositiveIntegerField(help_text="1, 2, 3... per app; the process is named run.<number>.")
    command = models.JSONField(help_text="The argument vector.")
    attach = models.BooleanField(
        default=False, help_text="Run on a tty relayed over a WebSocket, stopped when its client goes away."
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    exit_code = models.IntegerField(null=True, blank=True)
    output = models.TextField(blank=True, help_text="The end of what it printed (stdout and stderr).")
    error = models.TextField(blank=True)
    host = models.ForeignKey("deployments.DockerHost", null=True, blank=True, on_delete=models.SET_NULL)
    engine_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["app", "number"], name="run_unique_number_per_app")]

    def __str__(self) -> str:
        return f"{self.app} run.{self.number}: {self.status}"
