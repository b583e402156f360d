"""Apps, their config vars and their formation (the desired processes)."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from tenants.models import DNS_LABEL, Tenant

CONFIG_KEY = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
    "Use letters, digits and underscores, not starting with a digit.",
    code="invalid_key",
)
# The process type the router serves, and the one an app starts with and a build without a Procfile runs.
WEB_PROCESS = "web"
# A process type's name (a Procfile key, an image's berth.process.<type> label, a formation row).
PROCESS_TYPE_PATTERN = r"[a-z][a-z0-9_-]{0,29}"
PROCESS_TYPE = RegexValidator(
    rf"^{PROCESS_TYPE_PATTERN}$", "Use lowercase letters, digits, - and _.", code="invalid_process"
)


class App(models.Model):
    """A tenant's application: a DNS-safe slug, releases, a formation and containers."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="apps")
    slug = models.CharField(max_length=40, validators=[DNS_LABEL])
    description = models.CharField(max_length=200, blank=True)
    # Run once in a one-off container of the new release before its rollout (migrations); empty for none.
    release_command = models.TextField(blank=True)
    # The release that serves now; set when a rollout succeeds, what the reconciler converges on.
    current_release = models.ForeignKey(
        "deployments.Release", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The Swarm cluster the app's processes run on as services (rollouts/swarm.py); null: the hosts, placed by Berth.
    cluster = models.ForeignKey(
        "deployments.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="apps"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="app_unique_slug_per_tenant")]
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.slug}"


class ConfigVar(models.Model):
    """One environment variable of an app; a secret's value is stored encrypted (deployments.crypto)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="config_vars")
    key = models.CharField(max_length=128, validators=[CONFIG_KEY])
    value = models.TextField(blank=True)
    secret = models.BooleanField(default=False)
    # A path in the container: the (always secret) value is written there as a file at run time, not into the env.
    file = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "key"], name="configvar_unique_key_per_app")]
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.app}:{self.key}"


class HealthcheckKind(models.TextChoices):
    HTTP = "http", "HTTP path on $PORT"
    COMMAND = "command", "Command in the container"
    NONE = "none", "None"


class Formation(models.Model):
    """How many containers of one process type run, with which limits and which health check."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="formation")
    process_type = models.CharField(max_length=30, validators=[PROCESS_TYPE])
    command = models.TextField(blank=True)
    quantity = models.PositiveIntegerField(default=1)
    memory_mb = models.PositiveIntegerField(default=256)
    cpu = models.DecimalField(max_digits=5, decimal_places=2, default=0.5)
    healthcheck_kind = models.CharField(max_length=16, choices=HealthcheckKind.choices, default=HealthcheckKind.HTTP)
    healthcheck = models.CharField(max_length=500, blank=True, default="/")
    healthcheck_timeout = models.PositiveIntegerField(default=60, help_text="Seconds a new container has to pass.")
    # The root filesystem is read-only with a tmpfs /tmp of tmp_mb; False opts a process that must write out.
    read_only = models.BooleanField(default=True)
    tmp_mb = models.PositiveIntegerField(default=64, help_text="Size of the tmpfs /tmp in megabytes.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "process_type"], name="formation_unique_process")]
        ordering = ["process_type"]

    def __str__(self) -> str:
        return f"{self.app} {self.process_type}={self.quantity}"
