"""ACME HTTP-01 orders through the `acme` library (certbot's), run by a task: one custom domain's certificate.

The account key is one per installation (AcmeAccount, encrypted). An order's HTTP-01 answers are rows every router
serves (services/certificates.tls_apply); the order is answered only once every live router serves them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import josepy as jose
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deployments import crypto
from deployments.models import AcmeAccount, AcmeChallenge, Certificate, CertificateSource, CertificateState
from deployments.router import RouterError
from deployments.services.certificates import tls_material_store, tls_pair_validate
from deployments.services.routes import routes_switch, routing_bump
from portal.errors import ApplicationError
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

USER_AGENT = "berth"
NETWORK_TIMEOUT = 30
# How long the CA may take to validate and issue before the order counts as failed.
ORDER_TIMEOUT = dt.timedelta(seconds=120)


class OrderFailed(Exception):
    """An order that did not end in a certificate, with the reason shown to the domain's owner."""


def _account_key() -> jose.JWKRSA:
    """Return this installation's account key, creating it once (a concurrent creator's key wins)."""
    row = AcmeAccount.objects.filter(pk=1).first()
    if row is None:
        key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
        row, _created = AcmeAccount.objects.get_or_create(
            pk=1, defaults={"private_key": crypto.encrypt(json.dumps(key.to_json()))}
        )
    return jose.JWKRSA.json_loads(crypto.decrypt(row.private_key))


def _client() -> tuple[client.ClientV2, jose.JWKRSA]:
    """Return a client registered at BERTH_ACME_DIRECTORY under the installation's account key."""
    key = _account_key()
    verify = settings.BERTH_ACME_CA_BUNDLE or True
    net = client.ClientNetwork(key, user_agent=USER_AGENT, verify_ssl=verify, timeout=NETWORK_TIMEOUT)
    directory_url = settings.BERTH_ACME_DIRECTORY
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net=net)
    contact = {"email": settings.BERTH_ACME_EMAIL} if settings.BERTH_ACME_EMAIL else {}
    try:
        regr = acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True, **contact))
        uri = regr.uri
    except errors.ConflictError as existing:
        # The key is registered already (the CA answers with the account's URL).
        uri = existing.location
        net.account = messages.RegistrationResource(uri=uri, body=messages.Registration())
    AcmeAccount.objects.filter(pk=1).exclude(uri=uri, directory=directory_url).update(uri=uri, directory=directory_url)
    return acme, key


def _new_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _challenges_publish(*, cert: Certificate, answers: dict[str, str]) -> None:
    """Make every router serve the HTTP-01 answers, and return once every live one does."""
    with transaction.atomic():
        for token, body in answers.items():
            AcmeChallenge.objects.create(certificate=cert, token=token, key_authorization=body)
        version = routing_bump()
    routes_switch(version)


def _challenges_withdraw(*, cert_id: int) -> None:
    with transaction.atomic():
        if AcmeChallenge.objects.filter(certificate_id=cert_id).delete()[0]:
            routing_bump()


def _validation_reason(hostname: str, failure: errors.ValidationError) -> str:
    details = [
        challb.error.detail or str(challb.error)
        for authzr in failure.failed_authzrs
        for challb in authzr.body.challenges
        if challb.error is not None
    ]
    return (
        f"The ACME server could not validate {hostname} over HTTP: {'; '.join(details) or 'no detail given'}. "
        f"Check that the DNS of {hostname} points at the router and that port 80 reaches it."
    )


def _order(*, cert: Certificate) -> tuple[str, str]:
    """Run one order for the certificate's domain; return (full chain PEM, key PEM) or raise OrderFailed."""
    hostname = cert.domain.hostname
    acme, account_key = _client()
    key_pem = _new_key_pem()
    orderr = acme.new_order(crypto_util.make_csr(key_pem.encode(), [hostname]))
    answers: dict[str, str] = {}
    responses = []
    for authzr in orderr.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        challb = next((c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)), None)
        if challb is None:
            raise OrderFailed(f"The ACME server offers no HTTP-01 challenge for {hostname}.")
        response, validation = challb.response_and_validation(account_key)
        answers[challb.chall.encode("token")] = validation
        responses.append((challb, response))
    try:
        _challenges_publish(cert=cert, answers=answers)
        for challb, response in responses:
            acme.answer_challenge(challb, response)
        deadline = dt.datetime.now() + ORDER_TIMEOUT  # the library compares with naive local time
        try:
            orderr = acme.poll_and_finalize(orderr, deadline=deadline)
        except errors.ValidationError as failure:
            raise OrderFailed(_validation_reason(hostname, failure)) from None
        except errors.TimeoutError:
            raise OrderFailed(
                f"The ACME server did not issue a certificate for {hostname} within {ORDER_TIMEOUT.seconds} s."
            ) from None
    finally:
        _challenges_withdraw(cert_id=cert.pk)
    return orderr.fullchain_pem, key_pem


def _reason(error: Exception) -> str:
    if isinstance(error, OrderFailed):
        return str(error)
    if isinstance(error, messages.Error):
        return f"The ACME server refused the order: {error.detail or error.typ}."
    if isinstance(error, requests.RequestException):
        return f"The ACME directory {settings.BERTH_ACME_DIRECTORY} could not be reached: {error}."
    if isinstance(error, RouterError):
        return f"The routers did not serve the challenge: {error}"
    if isinstance(error, ApplicationError):
        return f"The ACME server issued a certificate Berth cannot serve: {error.message}"
    return f"The order failed: {error}."


def certificate_order(*, certificate_id: int) -> Certificate | None:
    """Order (or renew) a certificate from BERTH_ACME_DIRECTORY and serve it; record the failure reason otherwise.

    Idempotent: a certificate gone or no longer ACME is left alone. A renewal that fails keeps the current chain.
    """
    cert = Certificate.objects.select_related("domain__app__tenant").filter(pk=certificate_id).first()
    if cert is None or cert.source != CertificateSource.ACME:
        return None
    Certificate.objects.filter(pk=cert.pk).update(attempted_at=timezone.now())
    hostname = cert.domain.hostname
    try:
        if not settings.BERTH_ACME_DIRECTORY:
            raise OrderFailed("This platform has no ACME directory (BERTH_ACME_DIRECTORY).")
        chain_pem, key_pem = _order(cert=cert)
        pair = tls_pair_validate(certificate=chain_pem, private_key=key_pem, hostname=hostname)
    except (
        OrderFailed,
        errors.Error,
        messages.Error,
        requests.RequestException,
        RouterError,
        ApplicationError,
    ) as error:
        reason = _reason(error)
        logger.warning("ACME order for %s failed: %s", hostname, reason)
        return _record_failure(cert_id=cert.pk, reason=reason)
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().select_related("domain__app__tenant").filter(pk=cert.pk).first()
        if cert is None or cert.source != CertificateSource.ACME:
            return None
        tls_material_store(cert, pair)
        cert.state, cert.reason = CertificateState.ISSUED, ""
        cert.save()
        routing_bump()
        audit_record(
            actor=None,
            tenant=cert.domain.app.tenant,
            action="certificate.acme_issued",
            target=cert,
            diff={"app": cert.domain.app.slug, "hostname": hostname, "not_after": pair.not_after.isoformat()},
        )
    return cert


@transaction.atomic
def _record_failure(*, cert_id: int, reason: str) -> Certificate | None:
    cert = Certificate.objects.select_for_update().select_related("domain__app__tenant").filter(pk=cert_id).first()
    if cert is None or cert.source != CertificateSource.ACME:
        return None
    cert.reason = reason
    if cert.state == CertificateState.PENDING:
        cert.state = CertificateState.FAILED
    cert.save(update_fields=["state", "reason"])
    audit_record(
        actor=None,
        tenant=cert.domain.app.tenant,
        action="certificate.acme_failed",
        target=cert,
        diff={"app": cert.domain.app.slug, "hostname": cert.domain.hostname, "reason": reason},
    )
    return cert
