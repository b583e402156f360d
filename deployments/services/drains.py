"""Log drains: where an app's lines are forwarded (syslog over TCP or TLS, HTTPS batches), and their counters."""

from django.db import IntegrityError, transaction

from deployments.logs.drains import SCHEMES
from deployments.models import App, Drain
from deployments.outbound import outbound_target, tls_context
from portal.errors import Conflict, Invalid
from tenants.audit import audit_record

MAX_DRAINS_PER_APP = 5


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
