"""The audit trail: one call every service makes after it changes something."""

import contextvars
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.db import models

from tenants.models import AuditEvent, Tenant

# The client address of the request being served, set by AuditContextMiddleware; None outside requests.
client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("berth_client_ip", default=None)


def audit_record(
    *,
    actor,
    tenant: Tenant | None,
    action: str,
    target: models.Model | None = None,
    diff: dict | None = None,
) -> AuditEvent:
    """Record that `actor` did `action` on `target`. Callers pass diffs with secret values already masked."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        ip=client_ip.get(),
        diff=diff or {},
    )


@lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(meta: dict) -> str | None:
    """Return the client's IP address for a request's META.

    X-Forwarded-For is anyone's to write, so it counts only when the direct peer is a proxy listed in
    BERTH_TRUSTED_PROXIES; then the client is the right-most address not itself a trusted proxy.
    """
    peer = _parse_ip(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    trusted = _trusted_networks(tuple(settings.BERTH_TRUSTED_PROXIES))
    if not trusted or not any(peer in network for network in trusted):
        return str(peer)
    hops = [hop for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            break
        if not any(address in network for network in trusted):
            return str(address)
    return str(peer)


class AuditContextMiddleware:
    """Make the client address available to audit_record for the duration of a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_ip.set(client_address(request.META))
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
