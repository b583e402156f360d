"""Reads of tenants, memberships, tokens and audit events. Every tenant-owned read takes the tenant."""

import re

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from portal.errors import NotFound
from tenants.models import DNS_LABEL, ApiToken, AuditEvent, Membership, Tenant
from tenants.tokens import token_lookup_prefix, token_matches

# Names that come from a URL are checked before they reach the database: PostgreSQL refuses NUL characters, and a
# malformed name cannot name anything anyway.
_USERNAME = re.compile(r"^[\w.@+-]{1,150}\Z")


def is_tenant_slug(value: str) -> bool:
    return bool(DNS_LABEL.regex.match(value))


def tenant_list_for(*, user) -> QuerySet[Tenant]:
    """Tenants the user belongs to (staff see every tenant)."""
    if user.is_staff:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user)


def tenant_get_for(*, user, slug: str) -> Tenant:
    """The tenant with this slug if the user may see it; a missing and a foreign tenant both raise NotFound."""
    if not is_tenant_slug(slug):
        raise NotFound()
    try:
        return tenant_list_for(user=user).get(slug=slug)
    except Tenant.DoesNotExist:
        raise NotFound() from None


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    """The tenant with this slug whoever asks; callers check access (tenants.api.base)."""
    if not is_tenant_slug(slug):
        return None
    return Tenant.objects.filter(slug=slug).first()


def membership_get(*, tenant: Tenant, user) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(tenant=tenant, user=user).first()


def membership_list_for(*, user) -> QuerySet[Membership]:
    """The user's own memberships, in every tenant."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user)


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user")


def membership_get_by_username(*, tenant: Tenant, username: str) -> Membership:
    if not _USERNAME.match(username):
        raise NotFound()
    membership = membership_list(tenant=tenant).filter(user__username=username).first()
    if membership is None:
        raise NotFound()
    return membership


def user_get_by_username(*, username: str):
    if not _USERNAME.match(username):
        raise NotFound()
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound()
    return user


def token_list(*, user, restricted_to: Tenant | int | None = None) -> QuerySet[ApiToken]:
    """The user's live tokens; a caller using a tenant-restricted token sees only that tenant's tokens."""
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).select_related("tenant")
    if restricted_to is not None:
        tokens = tokens.filter(tenant=restricted_to)
    return tokens


def token_get(*, user, token_id: int, restricted_to: Tenant | int | None = None) -> ApiToken:
    token = token_list(user=user, restricted_to=restricted_to).filter(pk=token_id).first()
    if token is None:
        raise NotFound()
    return token


def token_authenticate(*, plaintext: str) -> ApiToken | None:
    """Return the active token matching `plaintext`, comparing digests in constant time."""
    prefix = token_lookup_prefix(plaintext)
    if prefix is None:
        return None
    now = timezone.now()
    for token in ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related("user", "tenant"):
        if token_matches(plaintext, token.digest):
            if token.expires_at is not None and token.expires_at <= now:
                return None
            return token
    return None


def audit_list(*, tenant: Tenant) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(tenant=tenant)


def audit_search(*, tenant: Tenant, actor: str = "", action: str = "", since=None, until=None) -> QuerySet[AuditEvent]:
    """The tenant's audit events, newest first, by actor name, action (or its prefix, e.g. "release") and UTC dates."""
    events = audit_list(tenant=tenant).order_by("-created_at", "-id")
    if actor:
        events = events.filter(actor_name=actor)
    if action:
        events = events.filter(action__startswith=action)
    if since is not None:
        events = events.filter(created_at__date__gte=since)
    if until is not None:
        events = events.filter(created_at__date__lte=until)
    return events
