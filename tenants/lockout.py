"""The audit of a login lock-out: django-axes locks an account after too many wrong passwords; Berth records it."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.dispatch import receiver

from tenants.audit import audit_record


@receiver(user_locked_out, dispatch_uid="berth-audit-lockout")
def audit_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        tenant=None,
        action="login.locked",
        target=user,
        diff={"username": (username or "")[:150], "ip": ip_address or ""},
    )
