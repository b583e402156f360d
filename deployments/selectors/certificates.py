"""Reads of certificates outside a tenant: the router's default certificate (staff)."""

from deployments.models import DefaultCertificate


def default_certificate_get() -> DefaultCertificate | None:
    return DefaultCertificate.objects.exclude(chain="").first()
