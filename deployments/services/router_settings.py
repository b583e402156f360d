"""Writes on an app's router settings: validated, saved, audited, then applied by the routers at runtime.

The typed, safe form of "let customers manage their own router config": a request body limit, timeouts, an HTTPS
redirect, a maintenance page (the containers keep running) and an IP allowlist. The change reaches the routers from
the router sync task queued once it is committed, like a domain.
"""

from __future__ import annotations

import ipaddress

from django.db import transaction

from deployments.models import App, RouterSettings
from deployments.selectors.routers import router_settings_get
from deployments.services.domains import router_sync_enqueue
from deployments.services.releases import app_lock
from portal.errors import Invalid
from tenants.audit import audit_record

# field -> (smallest, largest) for the integers
BOUNDS = {"max_body_mb": (1, 10240), "connect_timeout_s": (1, 120), "read_timeout_s": (1, 3600)}
FLAGS = ("force_https", "maintenance")
MAX_PAGE_BYTES = 8192
MAX_ALLOW = 100
FIELDS = (*BOUNDS, *FLAGS, "maintenance_page", "allow")


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", code="invalid", fields={field: [message]})


def _clean(field: str, value):
    if field in BOUNDS:
        low, high = BOUNDS[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(field, f"A whole number from {low} to {high}.")
        return value
    if field in FLAGS:
        if not isinstance(value, bool):
            raise _invalid(field, "true or false.")
        return value
    if field == "maintenance_page":
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _invalid(field, "An HTML page, as text.")
        if len(value.encode()) > MAX_PAGE_BYTES:
            raise _invalid(field, f"At most {MAX_PAGE_BYTES} bytes (UTF-8); this page has {len(value.encode())}.")
        return value
    return _clean_allow(value)


def _clean_allow(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid("allow", 'A list of addresses or CIDR ranges, e.g. ["203.0.113.0/24"].')
    if len(value) > MAX_ALLOW:
        raise _invalid("allow", f"At most {MAX_ALLOW} ranges; {len(value)} given.")
    cleaned = []
    for item in value:
        try:
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise _invalid("allow", f"{item!r} is not an IP address or CIDR range.") from None
        if str(network) not in cleaned:
            cleaned.append(str(network))
    return cleaned


@transaction.atomic
def router_settings_update(*, app: App, values: dict, actor) -> RouterSettings:
    """Change any subset of the app's router settings; an empty or unchanged request changes nothing."""
    if not isinstance(values, dict):
        raise Invalid('Send an object of router settings, e.g. {"maintenance": true}.')
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise Invalid(
            f"Unknown router setting(s): {', '.join(unknown)}. Known: {', '.join(FIELDS)}.",
            fields={name: ["Unknown setting."] for name in unknown},
        )
    cleaned = {field: _clean(field, value) for field, value in values.items()}
    app = app_lock(app=app)
    row = router_settings_get(app=app)
    diff = {field: value for field, value in cleaned.items() if getattr(row, field) != value}
    if not diff:
        return row
    for field, value in diff.items():
        setattr(row, field, value)
    row.save()
    if "maintenance_page" in diff:
        diff["maintenance_page"] = f"{len(diff['maintenance_page'].encode())} bytes"
    audit_record(actor=actor, tenant=app.tenant, action="router.update", target=app, diff=diff)
    transaction.on_commit(router_sync_enqueue)
    return row
