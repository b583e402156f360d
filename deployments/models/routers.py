"""The routers (HAProxy + `manage.py router`), the version of the routes they serve, and per-app router settings."""

from django.db import models
from django.utils import timezone


class RoutingState(models.Model):
    """The one row counting changes of what the routers must serve; a switch bumps `version` with its flags."""

    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="routing_state_singleton")]

    def __str__(self) -> str:
        return f"routes v{self.version}"


class RoutingChange(models.Model):
    """What a routes version changed: one row per app it changed, or one with no app for "anything, maybe everything".

    A router that served version n and sees version m applies only the apps of the versions between (when every one of
    them is here and names its apps), instead of every route; old rows are deleted by the routers' periodic sync.
    """

    version = models.PositiveBigIntegerField(db_index=True)
    app_id = models.BigIntegerField(null=True)  # no foreign key: the row outlives the app it names

    def __str__(self) -> str:
        return f"routes v{self.version}: app {self.app_id or 'all'}"


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


class RouterSettings(models.Model):
    """An app's settings at the router: body limit, timeouts, HTTPS redirect, maintenance page, IP allowlist.

    An app without a row has the defaults. Validation lives in services/router_settings.py; the router applies a
    change at runtime (maps and ACLs keyed on the app's backend), without a reload, except the connect timeout.
    """

    app = models.OneToOneField("deployments.App", on_delete=models.CASCADE, related_name="router_settings")
    max_body_mb = models.PositiveIntegerField(default=100)
    connect_timeout_s = models.PositiveIntegerField(default=5)
    read_timeout_s = models.PositiveIntegerField(default=60)
    force_https = models.BooleanField(default=False)
    maintenance = models.BooleanField(default=False)
    maintenance_page = models.TextField(blank=True, default="")
    allow = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "router settings"

    def __str__(self) -> str:
        return f"router settings of {self.app}"
