"""Two-factor login with django-otp's TOTP devices: start (an unconfirmed device whose key the user scans or types),
confirm with a first code, and turn off with a current code. Audited for every team the user belongs to."""

from base64 import b32encode

import segno
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.errors import Invalid
from tenants.audit import audit_record
from tenants.models import Membership

DEVICE_NAME = "authenticator app"


def totp_pending(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def totp_confirmed(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_secret(device: TOTPDevice) -> str:
    """The key in the base32 form authenticator apps take when typed."""
    return b32encode(device.bin_key).decode()


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as a QR code, an inline SVG drawn here (no script, no request to anyone)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, title="Two-factor key")


def _audit(user, action: str) -> None:
    for membership in Membership.objects.filter(user=user).select_related("tenant"):
        audit_record(
            actor=user, tenant=membership.tenant, action=action, target=user, diff={"user": user.get_username()}
        )


@transaction.atomic
def totp_start(*, user) -> TOTPDevice:
    """A fresh unconfirmed device (a new key each time), replacing any unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def totp_confirm(*, user, token: str) -> TOTPDevice:
    """Turn two-factor login on once the user typed a code of the pending device."""
    device = totp_pending(user=user)
    if device is None:
        raise Invalid("Start again: no authenticator app is waiting for confirmation.", code="no_pending_device")
    if not device.verify_token(token.strip()):
        raise Invalid("That code is not right: type the one your app shows now.", fields={"token": ["Wrong code."]})
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _audit(user, "user.two_factor_on")
    return device


@transaction.atomic
def totp_remove(*, user, token: str) -> None:
    """Turn two-factor login off; it takes a current code, so a stolen session alone cannot."""
    device = totp_confirmed(user=user)
    if device is None:
        return
    if not device.verify_token(token.strip()):
        raise Invalid("That code is not right: two-factor login stays on.", fields={"token": ["Wrong code."]})
    device.delete()
    _audit(user, "user.two_factor_off")
