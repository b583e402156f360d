"""Writes on TLS certificates: a custom domain's (uploaded PEM or ACME) and the platform's default.

A certificate reaches the routers the way routes do: the change bumps the routes version in its transaction, and
every router applies it at runtime (services/tls.py, through the `TlsRouter` methods of its driver), never by a reload.
ACME orders run in a task (services/acme.py); their HTTP-01 answers are rows every router serves while they validate.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments import crypto
from deployments.models import (
    Certificate,
    CertificateSource,
    CertificateState,
    DefaultCertificate,
    Domain,
)
from deployments.services.domains import WILDCARD
from deployments.services.queue import task_enqueue
from deployments.services.releases import app_lock
from deployments.services.routes import routing_bump
from portal.errors import Conflict, Invalid, NotFound
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

MAX_PEM_CHARS = 64 * 1024
MAX_CHAIN_LENGTH = 10
# An ACME order whose worker died stays pending; after this long the renewal loop queues it again.
ORDER_STALE = timedelta(minutes=30)
# A failed renewal is retried at the next check this long after the attempt (a CA limits failed validations).
RENEWAL_RETRY = timedelta(hours=6)


# --- validation of uploaded PEM -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsPair:
    """A validated chain and key, in the forms they are stored in."""

    chain_pem: str
    key_pem: str
    names: list[str]
    issuer: str
    not_before: datetime
    not_after: datetime


def _refuse(field_name: str, message: str) -> Invalid:
    return Invalid(f"{field_name}: {message}", code="invalid_certificate", fields={field_name: [message]})


def name_covers(pattern: str, hostname: str) -> bool:
    """Whether a certificate name `pattern` covers `hostname` as a TLS client checks it (RFC 6125).

    A wildcard is a whole left-most label and stands for exactly one label, never for a public suffix alone
    (`*.com`); a wildcard hostname (`*.example.com`) is covered only by that same wildcard.
    """
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if hostname.startswith(WILDCARD) or not pattern.startswith(WILDCARD):
        return pattern == hostname
    label, _dot, rest = hostname.partition(".")
    return bool(label) and "." in rest and rest == pattern[len(WILDCARD) :]


def _dns_names(leaf: x509.Certificate) -> list[str]:
    try:
        extension = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in extension.value.get_values_for_type(x509.DNSName)]


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load_chain(text: str) -> list[x509.Certificate]:
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        raise _refuse("certificate", "Give the certificate chain in PEM (-----BEGIN CERTIFICATE-----), the leaf first.")
    if "PRIVATE KEY-----" in text:
        raise _refuse("certificate", "The certificate field holds a private key: give the key in private_key alone.")
    if len(text) > MAX_PEM_CHARS:
        raise _refuse("certificate", f"A chain has at most {MAX_PEM_CHARS // 1024} KiB of PEM.")
    try:
        chain = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise _refuse("certificate", "The PEM could not be read as X.509 certificates.") from None
    if len(chain) > MAX_CHAIN_LENGTH:
        raise _refuse("certificate", f"A chain has at most {MAX_CHAIN_LENGTH} certificates; this one has {len(chain)}.")
    return chain


def _load_key(text: str):
    if not isinstance(text, str) or "PRIVATE KEY-----" not in text:
        raise _refuse("private_key", "Give the private key in PEM (-----BEGIN PRIVATE KEY-----).")
    if len(text) > MAX_PEM_CHARS:
        raise _refuse("private_key", f"A key has at most {MAX_PEM_CHARS // 1024} KiB of PEM.")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise _refuse("private_key", "The key is protected by a passphrase: upload it decrypted.") from None
    except (ValueError, UnsupportedAlgorithm):
        raise _refuse("private_key", "The PEM could not be read as a private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise _refuse("private_key", "Use an RSA or ECDSA key: the router serves no other kind.")
    return key


def _check_order(chain: list[x509.Certificate]) -> None:
    for position, (cert, issuer) in enumerate(itertools.pairwise(chain), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise _refuse(
                "certificate",
                f"Certificate {position} of the chain ({cert.subject.rfc4514_string()}) is not signed by the next one "
                f"({issuer.subject.rfc4514_string()}): give the leaf first, then each issuer in order.",
            ) from None


def _check_dates(chain: list[x509.Certificate], now: datetime) -> None:
    for position, cert in enumerate(chain, start=1):
        which = "The certificate" if position == 1 else f"Certificate {position} of the chain"
        if cert.not_valid_after_utc <= now:
            raise _refuse("certificate", f"{which} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")
        if cert.not_valid_before_utc > now:
            raise _refuse("certificate", f"{which} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")


def tls_pair_validate(*, certificate: str, private_key: str, hostname: str | None) -> TlsPair:
    """Check an uploaded chain and key and return them in their stored forms; Invalid says what is wrong.

    The key must match the first certificate (the leaf), each certificate be signed by the next, every certificate be
    valid now, and the leaf's subjectAltName cover `hostname` (when given).
    """
    chain = _load_chain(certificate)
    key = _load_key(private_key)
    leaf = chain[0]
    if _public_der(leaf.public_key()) != _public_der(key.public_key()):
        if any(_public_der(cert.public_key()) == _public_der(key.public_key()) for cert in chain[1:]):
            raise _refuse("certificate", "The key matches a later certificate of the chain: put the leaf first.")
        raise _refuse("private_key", "The private key does not belong to the certificate (their public keys differ).")
    _check_order(chain)
    _check_dates(chain, timezone.now())
    names = _dns_names(leaf)
    if not names:
        raise _refuse("certificate", "The certificate names no DNS name (subjectAltName); TLS clients require one.")
    if hostname is not None and not any(name_covers(name, hostname) for name in names):
        raise _refuse("certificate", f"The certificate is for {', '.join(names)}, not {hostname}.")
    return TlsPair(
        chain_pem="".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in chain),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        names=names,
        issuer=leaf.issuer.rfc4514_string()[:500],
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def tls_material_store(material, pair: TlsPair) -> None:
    """Put a validated pair on a certificate row (the key encrypted); the caller saves it."""
    material.chain = pair.chain_pem
    material.private_key = crypto.encrypt(pair.key_pem)
    material.names = pair.names
    material.issuer = pair.issuer
    material.not_before = pair.not_before
    material.not_after = pair.not_after
    material.updated_at = timezone.now()


def _audit_diff(domain: Domain, **extra) -> dict:
    return {"app": domain.app.slug, "hostname": domain.hostname, **extra}


# --- a custom domain's certificate ----------------------------------------------------------------------------------


@transaction.atomic
def certificate_upload(*, domain: Domain, certificate: str, private_key: str, actor) -> Certificate:
    """Serve an uploaded chain and key for the domain (replacing any certificate it had); nothing is kept on refusal."""
    pair = tls_pair_validate(certificate=certificate, private_key=private_key, hostname=domain.hostname)
    app_lock(app=domain.app)
    cert = Certificate.objects.filter(domain=domain).first() or Certificate(domain=domain)
    cert.source, cert.state, cert.reason, cert.attempted_at = CertificateSource.PEM, CertificateState.ISSUED, "", None
    tls_material_store(cert, pair)
    cert.save()
    routing_bump()
    audit_record(
        actor=actor,
        tenant=domain.app.tenant,
        action="certificate.upload",
        target=cert,
        diff=_audit_diff(domain, names=pair.names, not_after=pair.not_after.isoformat()),
    )
    return cert


def acme_order_enqueue(certificate_id: int) -> None:
    task_enqueue("certificate_order_run", certificate_id)


@transaction.atomic
def certificate_acme_request(*, domain: Domain, actor) -> Certificate:
    """Order a certificate for the domain from the ACME directory (a task); a current one serves until it is issued."""
    if not settings.BERTH_ACME_DIRECTORY:
        raise Conflict(
            "This platform has no ACME directory (BERTH_ACME_DIRECTORY): upload a certificate instead.",
            code="acme_unavailable",
        )
    if domain.hostname.startswith(WILDCARD):
        raise _refuse(
            "acme",
            f"{domain.hostname} is a wildcard: HTTP-01 cannot validate one; upload a certificate for it instead.",
        )
    app_lock(app=domain.app)
    cert = Certificate.objects.filter(domain=domain).first() or Certificate(domain=domain)
    if cert.pk and cert.source == CertificateSource.ACME and cert.state == CertificateState.PENDING:
        raise Conflict(f"A certificate for {domain.hostname} is already being ordered.", code="acme_pending")
    # Any chain the domain already has keeps serving until the order ends.
    cert.source, cert.state, cert.reason = CertificateSource.ACME, CertificateState.PENDING, ""
    cert.attempted_at = timezone.now()
    cert.save()
    audit_record(
        actor=actor, tenant=domain.app.tenant, action="certificate.acme", target=cert, diff=_audit_diff(domain)
    )
    transaction.on_commit(lambda: acme_order_enqueue(cert.pk))
    return cert


@transaction.atomic
def certificate_remove(*, domain: Domain, actor) -> None:
    """Stop serving the domain's certificate (the router falls back to the default one)."""
    app_lock(app=domain.app)
    cert = Certificate.objects.filter(domain=domain).first()
    if cert is None:
        raise NotFound(f"{domain.hostname} has no certificate.")
    audit_record(
        actor=actor,
        tenant=domain.app.tenant,
        action="certificate.remove",
        target=cert,
        diff=_audit_diff(domain, source=cert.source),
    )
    cert.delete()
    routing_bump()


def certificates_renew_due() -> int:
    """Queue an ACME order for every certificate that expires within BERTH_CERT_RENEW_DAYS, or whose order stalled.

    A failed renewal waits RENEWAL_RETRY before the next attempt; each certificate is claimed by moving its
    `attempted_at` in one UPDATE, so two loops never queue the same one. Returns how many were queued.
    """
    if not settings.BERTH_ACME_DIRECTORY:
        return 0
    now = timezone.now()
    due = Certificate.objects.filter(source=CertificateSource.ACME).filter(
        Q(state=CertificateState.ISSUED, not_after__lte=now + timedelta(days=settings.BERTH_CERT_RENEW_DAYS))
        & (Q(attempted_at__isnull=True) | Q(attempted_at__lte=now - RENEWAL_RETRY))
        | Q(state=CertificateState.PENDING) & (Q(attempted_at__isnull=True) | Q(attempted_at__lte=now - ORDER_STALE))
    )
    queued = 0
    for pk, attempted_at in due.values_list("pk", "attempted_at"):
        with transaction.atomic():
            if Certificate.objects.filter(pk=pk, attempted_at=attempted_at).update(attempted_at=now):
                transaction.on_commit(lambda pk=pk: acme_order_enqueue(pk))
                queued += 1
    return queued


# --- the platform's default certificate -----------------------------------------------------------------------------


def _apps_domain() -> str:
    return settings.BERTH_APPS_DOMAIN.strip(".").lower()


@transaction.atomic
def default_certificate_set(*, certificate: str, private_key: str, actor) -> DefaultCertificate:
    """Make a chain and key the default certificate; it must name at least one host under the apps domain."""
    pair = tls_pair_validate(certificate=certificate, private_key=private_key, hostname=None)
    apps_domain = _apps_domain()
    if not any(name == apps_domain or name.endswith("." + apps_domain) for name in pair.names):
        raise _refuse(
            "certificate",
            f"The certificate is for {', '.join(pair.names)}, nothing under the apps domain {apps_domain}.",
        )
    current = DefaultCertificate.objects.select_for_update().filter(pk=1).first() or DefaultCertificate(pk=1)
    tls_material_store(current, pair)
    current.save()
    routing_bump()
    audit_record(
        actor=actor,
        tenant=None,
        action="certificate.default_set",
        target=current,
        diff={"names": pair.names, "not_after": pair.not_after.isoformat()},
    )
    return current


@transaction.atomic
def default_certificate_remove(*, actor) -> bool:
    """Remove the default certificate; whether there was one."""
    current = DefaultCertificate.objects.select_for_update().filter(pk=1).first()
    if current is None:
        return False
    audit_record(actor=actor, tenant=None, action="certificate.default_remove", target=current, diff={})
    current.delete()
    routing_bump()
    return True
