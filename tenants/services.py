"""Writes on tenants, memberships and tokens. Each validates, saves, and records an audit event."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp import user_has_device

from portal.errors import Conflict, Forbidden, Invalid
from tenants.audit import audit_record
from tenants.models import ROLE_RANK, ApiToken, Membership, Role, Scope, Tenant
from tenants.tokens import token_generate


@transaction.atomic
def tenant_create(*, actor, slug: str, name: str = "") -> Tenant:
    """Create a tenant with `actor` as its owner."""
    tenant = Tenant(
        slug=slug,
        name=name or slug,
        max_apps=settings.BERTH_DEFAULT_MAX_APPS,
        max_containers=settings.BERTH_DEFAULT_MAX_CONTAINERS,
        max_memory_mb=settings.BERTH_DEFAULT_MAX_MEMORY_MB,
    )
    tenant.full_clean(validate_unique=False)
    if Tenant.objects.filter(slug=slug).exists():
        raise _slug_taken(slug)
    try:
        # A concurrent create of the same slug passes the check above; the constraint decides.
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        raise _slug_taken(slug) from None
    Membership.objects.create(tenant=tenant, user=actor, role=Role.OWNER)
    audit_record(actor=actor, tenant=tenant, action="tenant.create", target=tenant, diff={"slug": slug})
    return tenant


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"The slug {slug!r} is taken.", code="slug_taken", fields={"slug": ["This slug is taken."]})


# What only staff set: the plan's label and the quotas.
_QUOTA_FIELDS = ("plan", "max_apps", "max_containers", "max_memory_mb")


@transaction.atomic
def tenant_update(*, actor, tenant: Tenant, name: str | None = None, quotas: dict | None = None) -> Tenant:
    """Rename a tenant; staff may also change its plan and quotas (`quotas` may name `plan`)."""
    if quotas and not actor.is_staff:
        raise Forbidden("Only platform staff may change quotas.")
    diff = {}
    if name is not None and name != tenant.name:
        diff["name"] = [tenant.name, name]
        tenant.name = name
    for field, value in (quotas or {}).items():
        if field not in _QUOTA_FIELDS:
            raise Invalid(f"Unknown quota {field!r}.", fields={field: ["Unknown quota."]})
        if getattr(tenant, field) != value:
            diff[field] = [getattr(tenant, field), value]
            setattr(tenant, field, value)
    tenant.full_clean()
    tenant.save()
    if diff:
        audit_record(actor=actor, tenant=tenant, action="tenant.update", target=tenant, diff=diff)
    return tenant


@transaction.atomic
def tenant_require_two_factor(*, actor, tenant: Tenant, required: bool) -> Tenant:
    """Require (or stop requiring) a second factor of the team's members on its pages; owners only."""
    if _actor_role(tenant=tenant, actor=actor) != Role.OWNER:
        raise Forbidden("Only an owner may change whether the team requires two-factor login.")
    if required and not user_has_device(actor):
        raise Conflict(
            "Turn on two-factor login for your own account first, or you would lock yourself out.",
            code="two_factor_missing",
        )
    if tenant.require_two_factor != required:
        tenant.require_two_factor = required
        tenant.save(update_fields=["require_two_factor"])
        audit_record(actor=actor, tenant=tenant, action="tenant.two_factor", target=tenant, diff={"required": required})
    return tenant


@transaction.atomic
def tenant_delete(*, actor, tenant: Tenant) -> None:
    """Delete a tenant that has no apps left (apps hold containers that must be stopped first)."""
    if hasattr(tenant, "apps") and tenant.apps.exists():
        raise Conflict("Delete the tenant's apps first; their containers must be stopped.", code="tenant_has_apps")
    audit_record(actor=actor, tenant=tenant, action="tenant.delete", target=tenant, diff={"slug": tenant.slug})
    tenant.delete()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid(
            f"Unknown role {value!r}; use one of {', '.join(Role.values)}.",
            fields={"role": ["Unknown role."]},
        ) from None


def tenant_lock(*, tenant: Tenant) -> Tenant:
    """Lock the tenant's row and return it fresh: the one lock that serializes a tenant's membership changes (two
    owners cannot demote each other at once) and its quota checks (two writes cannot both pass). Inside a
    transaction; always taken before an app's lock."""
    return Tenant.objects.select_for_update().get(pk=tenant.pk)


def _check_may_grant(*, actor_role: Role | None, actor, role: Role) -> None:
    if actor.is_staff:
        return
    if actor_role is None or ROLE_RANK[role] > ROLE_RANK[actor_role]:
        raise Forbidden("You cannot grant a role above your own.")


def _actor_role(*, tenant: Tenant, actor) -> Role | None:
    membership = Membership.objects.filter(tenant=tenant, user=actor).first()
    return Role(membership.role) if membership else None


@transaction.atomic
def member_add(*, actor, tenant: Tenant, user, role: str) -> Membership:
    """Add `user` to `tenant` with `role` (never above the actor's own role)."""
    role = _role(role)
    tenant_lock(tenant=tenant)
    _check_may_grant(actor_role=_actor_role(tenant=tenant, actor=actor), actor=actor, role=role)
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise Conflict(f"{user.get_username()} is already a member.", code="already_member")
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    audit_record(
        actor=actor,
        tenant=tenant,
        action="member.add",
        target=membership,
        diff={"user": user.get_username(), "role": role},
    )
    return membership


def _owners_left_without(*, tenant: Tenant, membership: Membership) -> int:
    """Count the other owners; the caller holds the tenant lock (tenant_lock)."""
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER).exclude(pk=membership.pk).count()


@transaction.atomic
def member_update(*, actor, tenant: Tenant, membership: Membership, role: str) -> Membership:
    """Change a member's role. Only an owner may touch an owner; the last owner cannot be demoted."""
    role = _role(role)
    tenant_lock(tenant=tenant)
    membership.refresh_from_db()
    actor_role = _actor_role(tenant=tenant, actor=actor)
    _check_may_grant(actor_role=actor_role, actor=actor, role=role)
    if membership.role == Role.OWNER and actor_role != Role.OWNER and not actor.is_staff:
        raise Forbidden("Only an owner may change another owner's role.")
    if (
        membership.role == Role.OWNER
        and role != Role.OWNER
        and _owners_left_without(tenant=tenant, membership=membership) == 0
    ):
        raise Conflict("The last owner cannot be demoted; make someone else owner first.", code="last_owner")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        tenant=tenant,
        action="member.update",
        target=membership,
        diff={"user": membership.user.get_username(), "role": [previous, role]},
    )
    return membership


@transaction.atomic
def member_remove(*, actor, tenant: Tenant, membership: Membership) -> None:
    """Remove a member (or let a member leave). The last owner cannot leave."""
    tenant_lock(tenant=tenant)
    membership.refresh_from_db()
    actor_role = _actor_role(tenant=tenant, actor=actor)
    leaving = membership.user_id == actor.pk
    outranked = actor_role is None or ROLE_RANK[Role(membership.role)] > ROLE_RANK[actor_role]
    if not leaving and not actor.is_staff and outranked:
        raise Forbidden("You cannot remove a member above your own role.")
    if membership.role == Role.OWNER and _owners_left_without(tenant=tenant, membership=membership) == 0:
        raise Conflict("The last owner cannot leave; make someone else owner first.", code="last_owner")
    audit_record(
        actor=actor,
        tenant=tenant,
        action="member.remove",
        target=membership,
        diff={"user": membership.user.get_username()},
    )
    ApiToken.objects.filter(user=membership.user, tenant=tenant, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    membership.delete()


def _max_scopes_for(*, user, tenant: Tenant | None) -> frozenset[str]:
    """The widest scopes a token of `user` may carry: its role on `tenant`, or its best role anywhere.

    Staff hold every scope outside tenants (the hosts console) but only `read` on a tenant they are not a member of.
    """
    memberships = Membership.objects.filter(user=user)
    if tenant is not None:
        memberships = memberships.filter(tenant=tenant)
    scopes: set[str] = set()
    for membership in memberships:
        scopes |= membership.scopes
    if user.is_staff:
        scopes |= {Scope.READ} if tenant is not None else set(Scope.values)
    return frozenset(scopes)


@transaction.atomic
def token_create(
    *,
    user,
    scopes: list[str],
    name: str = "",
    tenant: Tenant | None = None,
    expires_at: datetime | None = None,
    via_token: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token; return it with its plaintext, which is never stored and never shown again.

    Scopes can never be wider than the user's role (on the restricted tenant, or on any of the user's tenants), nor
    wider than the token used to ask for it.
    """
    requested = set(scopes)
    unknown = requested - set(Scope.values)
    if unknown or not requested:
        raise Invalid(
            f"Scopes must be a non-empty subset of {', '.join(Scope.values)}.",
            fields={"scopes": ["Invalid scopes."]},
        )
    allowed = _max_scopes_for(user=user, tenant=tenant)
    if via_token is not None:
        allowed &= frozenset(via_token.scopes)
        if via_token.tenant_id is not None and (tenant is None or tenant.id != via_token.tenant_id):
            raise Forbidden(
                "A tenant-restricted token can only create tokens for its tenant.",
            )
    if not requested <= allowed:
        wider = ", ".join(sorted(requested - allowed))
        raise Forbidden(
            f"Scopes wider than your role: {wider}.",
            code="scope_too_wide",
            fields={"scopes": [f"Not allowed: {wider}."]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("The expiry must be in the future.", fields={"expires_at": ["Must be in the future."]})
    plaintext, prefix, digest = token_generate()
    token = ApiToken(
        user=user,
        tenant=tenant,
        name=name,
        digest=digest,
        prefix=prefix,
        scopes=sorted(requested),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    audit_record(actor=user, tenant=tenant, action="token.create", target=token, diff={"scopes": token.scopes})
    return token, plaintext


# Writing last_used_at on every request would turn reads into writes; a minute of precision is plenty.
_LAST_USED_PRECISION = timedelta(minutes=1)


def token_mark_used(*, token: ApiToken) -> None:
    """Record that `token` authenticated a request (bookkeeping, not audited)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


@transaction.atomic
def token_revoke(*, actor, token: ApiToken) -> None:
    """Revoke a token; the next request made with it fails."""
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(actor=actor, tenant=token.tenant, action="token.revoke", target=token)


def user_get_or_create(*, username: str, email: str = ""):
    """Return the user named `username`, creating it (without a usable password) when missing."""
    users = get_user_model().objects
    user = users.filter(username=username).first()
    if user is None:
        user = users.model(username=username, email=email)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
    return user
