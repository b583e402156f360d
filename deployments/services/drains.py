"""Log drains: where an app's lines are forwarded (syslog over TCP or TLS, HTTPS batches), and their counters."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from deployments.models import App, Drain
from deployments.services.outbound import outbound_target, tls_context
from portal.errors import Conflict, Invalid
from tenants.audit import audit_record

SCHEMES = {"syslog": None, "syslog+tls": None, "https": 443}
MAX_DRAINS_PER_APP = 5


@dataclass(frozen=True)
class DrainSpec:
    """What the collector needs to forward to one drain."""

    id: int
    url: str
    ca_certificate: str


@transaction.atomic
def drain_add(*, app: App, url: str, actor, ca_certificate: str = "") -> Drain:
    """Forward the app's lines to `url` from now on; the address must be one Berth may reach (see outbound)."""
    outbound_target(url, schemes=SCHEMES)
    if ca_certificate:
        try:
            tls_context(ca_certificate)
        except Exception as exc:  # ssl raises SSLError or ValueError depending on what is wrong
            raise Invalid(
                "The CA certificate is not a PEM certificate.", fields={"ca_certificate": [str(exc)]}
            ) from None
    if Drain.objects.filter(app=app).count() >= MAX_DRAINS_PER_APP:
        raise Conflict(f"An app has at most {MAX_DRAINS_PER_APP} drains.", code="too_many_drains")
    drain = Drain(tenant_id=app.tenant_id, app=app, url=url, ca_certificate=ca_certificate, created_by=actor)
    drain.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            drain.save()
    except IntegrityError:
        raise Conflict(f"{app.slug} already drains to {url}.", code="drain_exists") from None
    audit_record(actor=actor, tenant=app.tenant, action="drain.add", target=drain, diff={"url": url})
    return drain


@transaction.atomic
def drain_remove(*, drain: Drain, actor) -> None:
    audit_record(actor=actor, tenant=drain.app.tenant, action="drain.remove", target=drain, diff={"url": drain.url})
    drain.delete()


def drain_specs(*, app_id: int) -> list[DrainSpec]:
    """The drains of an app, as the collector forwards to them."""
    rows = Drain.objects.filter(app_id=app_id).values_list("id", "url", "ca_certificate")
    return [DrainSpec(id=pk, url=url, ca_certificate=ca) for pk, url, ca in rows]


def drain_counts_record(*, drain_id: int, delivered: int, dropped: int, error: str | None) -> None:
    """Add to a drain's counters what its sender did since the last call (`error`: None leaves it as it is)."""
    changes = {"delivered": F("delivered") + delivered, "dropped": F("dropped") + dropped}
    if error is not None:
        changes["last_error"] = error[:500]
    Drain.objects.filter(pk=drain_id).update(**changes)
