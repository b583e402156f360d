"""Reads of an app's custom domains. Every read takes an app already scoped to its tenant."""

from django.db.models import QuerySet

from deployments.models import App, Domain
from portal.errors import NotFound


def domain_list(*, app: App) -> QuerySet[Domain]:
    return Domain.objects.filter(app=app).select_related("tls").order_by("hostname")


def domain_get(*, app: App, hostname: str) -> Domain:
    """The app's domain `hostname` (as the service stores it); a missing one and another app's both raise NotFound."""
    domain = domain_list(app=app).filter(hostname=hostname.strip().lower().rstrip(".")).first()
    if domain is None:
        raise NotFound()
    return domain
