"""Writes on an app's custom domains: add and remove a hostname the router serves the app under.

A hostname belongs to one app on the whole platform. The router picks a change up from the router sync task,
queued once the change is committed; nginx is never reloaded inside a request.
"""

import ipaddress
import re

from django.conf import settings
from django.db import IntegrityError, transaction

from deployments.models import App, Domain
from deployments.services.queue import task_enqueue
from deployments.services.releases import app_lock
from portal.errors import Conflict, Invalid, QuotaExceeded
from tenants.audit import audit_record

MAX_DOMAINS_PER_APP = 50
MAX_HOSTNAME = 253
WILDCARD = "*."
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
FIELD = "hostname"


def _invalid(message: str) -> Invalid:
    return Invalid(f"{FIELD}: {message}", fields={FIELD: [message]})


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _under(hostname: str, parent: str) -> bool:
    """Whether `hostname` is `parent` or a name below it."""
    return hostname == parent or hostname.endswith("." + parent)


def hostname_normalize(raw) -> str:
    """Validate a custom hostname and return the form it is stored in: lower-case, without a trailing dot.

    A DNS name of at least two labels (1 to 63 letters, digits and inner hyphens each, 253 characters in all), or a
    wildcard `*.` followed by such a name of at least two labels. Not an IP address, and nothing the platform's own
    apps domain serves (settings.BERTH_APPS_DOMAIN).
    """
    if not isinstance(raw, str) or not raw.strip():
        raise _invalid('Give a hostname, e.g. "www.example.com".')
    hostname = raw.strip().lower()
    if hostname.endswith(".") and not hostname.endswith(".."):
        hostname = hostname[:-1]
    if _is_ip(hostname):
        raise _invalid("An IP address cannot be a domain; give a hostname whose DNS points at the router.")
    if not hostname.isascii():
        raise _invalid("Use the ASCII (punycode, xn--...) form of an internationalised name.")
    if len(hostname) > MAX_HOSTNAME:
        raise _invalid(f"A hostname has at most {MAX_HOSTNAME} characters; this one has {len(hostname)}.")
    wildcard = hostname.startswith(WILDCARD)
    base = hostname[len(WILDCARD) :] if wildcard else hostname
    labels = base.split(".")
    if "*" in base:
        raise _invalid('A wildcard "*." may only be the first label, e.g. "*.example.com".')
    for label in labels:
        if not label:
            raise _invalid("A hostname has no empty labels (two dots in a row, or a dot at the start).")
        if len(label) > 63:
            raise _invalid(f"Each label has at most 63 characters; {label[:20]}... has {len(label)}.")
        if not _LABEL.match(label):
            raise _invalid(
                f'"{label}" is not a DNS label: use letters, digits and hyphens, not starting or ending with a hyphen.'
            )
    if wildcard and len(labels) < 2:
        raise _invalid('A wildcard needs at least two labels after "*.", e.g. "*.example.com".')
    if len(labels) < 2:
        raise _invalid('A hostname has at least two labels, e.g. "example.com".')
    if labels[-1].isdigit():
        raise _invalid("The last label of a hostname cannot be all digits.")
    apps_domain = settings.BERTH_APPS_DOMAIN.strip(".").lower()
    if _under(base, apps_domain) or (wildcard and _under(apps_domain, base)):
        raise _invalid(
            f"{hostname} is served by the platform under {apps_domain}; every app already has its own name there."
        )
    return hostname


def _taken(*, app: App, hostname: str) -> Conflict:
    """The refusal for a hostname an app already has; another tenant's app is never named."""
    owner = Domain.objects.select_related("app").filter(hostname=hostname).first()
    if owner is not None and owner.app_id == app.pk:
        return Conflict(f"{app.slug} already has the domain {hostname}.", code="domain_exists")
    if owner is not None and owner.app.tenant_id == app.tenant_id:
        return Conflict(f"{hostname} is already a domain of the app {owner.app.slug}.", code="domain_taken")
    return Conflict(f"{hostname} is already in use by another app on this platform.", code="domain_taken")


def _wildcard_clash(*, app: App, hostname: str) -> bool:
    """Whether the name overlaps a wildcard of another tenant (or is a wildcard over another tenant's names).

    nginx prefers an exact name to a wildcard, so without this check one tenant could take a name below another
    tenant's wildcard, or a wildcard could catch names another tenant is still setting up.
    """
    others = Domain.objects.exclude(app__tenant_id=app.tenant_id)
    if hostname.startswith(WILDCARD):
        base = hostname[len(WILDCARD) :]
        return others.filter(hostname__endswith="." + base).exists()
    labels = hostname.split(".")
    covering = [WILDCARD + ".".join(labels[index:]) for index in range(1, len(labels) - 1)]
    return others.filter(hostname__in=covering).exists()


def router_sync_enqueue() -> None:
    """Queue making every router serve the routes (the task bumps the routes version and waits for the routers)."""
    task_enqueue("router_sync_run")


@transaction.atomic
def domain_add(*, app: App, hostname: str, actor) -> Domain:
    """Route `hostname` to the app's web process (no TLS material: the certificate and key stay empty)."""
    hostname = hostname_normalize(hostname)
    app = app_lock(app=app)
    if Domain.objects.filter(hostname=hostname).exists():
        raise _taken(app=app, hostname=hostname)
    if _wildcard_clash(app=app, hostname=hostname):
        raise Conflict(f"{hostname} overlaps a wildcard domain of another app on this platform.", code="domain_taken")
    count = Domain.objects.filter(app=app).count()
    if count >= MAX_DOMAINS_PER_APP:
        raise QuotaExceeded(
            f"{app.slug} already has {count} domains, the most an app may have. Remove one first.",
            fields={FIELD: [f"At most {MAX_DOMAINS_PER_APP} domains per app."]},
        )
    domain = Domain(app=app, hostname=hostname)
    domain.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            domain.save()
    except IntegrityError:
        # Another request added the same name between the check and the insert.
        raise _taken(app=app, hostname=hostname) from None
    audit_record(
        actor=actor, tenant=app.tenant, action="domain.add", target=domain, diff={"app": app.slug, FIELD: hostname}
    )
    transaction.on_commit(router_sync_enqueue)
    return domain


@transaction.atomic
def domain_remove(*, domain: Domain, actor) -> None:
    """Stop routing the domain's hostname to its app."""
    app = app_lock(app=domain.app)
    hostname = domain.hostname
    audit_record(
        actor=actor, tenant=app.tenant, action="domain.remove", target=domain, diff={"app": app.slug, FIELD: hostname}
    )
    Domain.objects.filter(pk=domain.pk).delete()
    transaction.on_commit(router_sync_enqueue)
