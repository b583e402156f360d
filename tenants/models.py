"""Tenants (customer teams), their members and roles, API tokens and the audit trail."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

DNS_LABEL = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
    "Use 1 to 40 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
    code="invalid_slug",
)


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    DEVELOPER = "developer", "Developer"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


class Scope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    DEPLOY = "deploy", "Deploy"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEWER: 1, Role.DEVELOPER: 2, Role.ADMIN: 3, Role.OWNER: 4}
ROLE_SCOPES = {
    Role.VIEWER: frozenset({Scope.READ}),
    Role.DEVELOPER: frozenset({Scope.READ, Scope.WRITE, Scope.DEPLOY}),
    Role.ADMIN: frozenset({Scope.READ, Scope.WRITE, Scope.DEPLOY, Scope.ADMIN}),
    Role.OWNER: frozenset({Scope.READ, Scope.WRITE, Scope.DEPLOY, Scope.ADMIN}),
}


class Tenant(models.Model):
    """A customer team: owns apps, members, tokens restricted to it, and a quota."""

    slug = models.CharField(max_length=40, unique=True, validators=[DNS_LABEL])
    name = models.CharField(max_length=100)
    # The plan staff sold the team ("hobby", "team", ...): a label shown beside the quotas, which staff set apart.
    plan = models.CharField(max_length=40, blank=True)
    max_apps = models.PositiveIntegerField(default=20)
    max_containers = models.PositiveIntegerField(default=50)
    max_memory_mb = models.PositiveIntegerField(default=8192)
    require_two_factor = models.BooleanField(
        default=False, help_text="Members must log in with a second factor to open the team's pages."
    )
    # Set by staff (deployments/services/suspension.py): the apps answer a notice at the router; nothing is deleted.
    suspended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class Membership(models.Model):
    """A user's role in one tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.DEVELOPER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[Role(self.role)]


class ApiToken(models.Model):
    """A bearer token: shown once as `brt_…`, stored only as an HMAC-SHA256 digest keyed by a server secret."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    # The first characters after `brt_`, so a user can tell tokens apart without the secret.
    prefix = models.CharField(max_length=12)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        # Every request with a token finds it by its prefix.
        indexes = [models.Index(fields=["prefix"], name="apitoken_prefix")]

    def __str__(self) -> str:
        return f"brt_{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AuditEvent(models.Model):
    """Who changed what, where and when. Never holds a secret value.

    Events outlive their tenant: deleting a tenant unlinks them (`tenant_slug` still says whose they were).
    """

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    tenant_slug = models.CharField(max_length=40, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_recent"),
            # The audit page's order (newest first by time): without it a page sorts all of the tenant's events.
            models.Index(fields=["tenant", "-created_at", "-id"], name="audit_tenant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target_repr}"
