"""Invitations to a team by email: a signed link that names the team, the address and the role, valid for
BERTH_INVITATION_DAYS. Nothing is stored until it is accepted; accepting adds the member through member_add, with
the inviter as the actor, so the rank rule (no role above the inviter's own, as the inviter stands then) still holds.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction

from portal.errors import Invalid
from tenants.audit import audit_record
from tenants.models import Membership, Tenant
from tenants.services import _actor_role, _check_may_grant, _role, member_add

_SALT = "berth.invitation"


@dataclass(frozen=True)
class Invitation:
    tenant: Tenant
    email: str
    role: str
    inviter: object


def invitation_send(*, actor, tenant: Tenant, email: str, role: str, link_for) -> str:
    """Email an invitation to `email` to join `tenant` as `role`; return the link (`link_for(signed)` makes it)."""
    role = _role(role)
    try:
        validate_email(email)
    except Exception:
        raise Invalid(f"{email!r} is not an email address.", fields={"email": ["Not an email address."]}) from None
    _check_may_grant(actor_role=_actor_role(tenant=tenant, actor=actor), actor=actor, role=role)
    signed = signing.dumps({"t": tenant.pk, "e": email.lower(), "r": role, "by": actor.pk}, salt=_SALT, compress=True)
    link = link_for(signed)
    audit_record(actor=actor, tenant=tenant, action="member.invite", target=tenant, diff={"email": email, "role": role})
    days = settings.BERTH_INVITATION_DAYS
    send_mail(
        subject=f"{actor.get_username()} invites you to {tenant.name} on Berth",
        message=(
            f"{actor.get_username()} invites you to the team {tenant.name} on Berth, as {role}.\n\n"
            f"Accept within {days} day{'s' if days != 1 else ''}:\n{link}\n\n"
            "If you did not expect this, ignore this message.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    return link


def invitation_read(*, signed: str) -> Invitation:
    """The invitation a link carries; Invalid when it was tampered with, has expired or its team is gone."""
    expired = Invalid("This invitation has expired or is not valid: ask the team for a new one.", code="invitation")
    try:
        data = signing.loads(signed, salt=_SALT, max_age=settings.BERTH_INVITATION_DAYS * 86400)
    except signing.BadSignature:
        raise expired from None
    tenant = Tenant.objects.filter(pk=data["t"]).first()
    inviter = get_user_model().objects.filter(pk=data["by"], is_active=True).first()
    if tenant is None or inviter is None:
        raise expired
    return Invitation(tenant=tenant, email=data["e"], role=data["r"], inviter=inviter)


@transaction.atomic
def invitation_accept(*, signed: str, user) -> Membership:
    """Add `user` to the invitation's team with its role (the inviter's rank checked as of now)."""
    invitation = invitation_read(signed=signed)
    membership = member_add(actor=invitation.inviter, tenant=invitation.tenant, user=user, role=invitation.role)
    audit_record(
        actor=user,
        tenant=invitation.tenant,
        action="member.accept",
        target=membership,
        diff={"user": user.get_username(), "role": invitation.role, "invited_by": invitation.inviter.get_username()},
    )
    return membership
