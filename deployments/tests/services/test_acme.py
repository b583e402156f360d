"""ACME orders against a real ACME server: Debian's pebble on loopback (the `acme_directory` fixture)."""

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.utils import timezone

from deployments import crypto
from deployments.models import AcmeAccount, AcmeChallenge, Certificate, CertificateState, RouterNode
from deployments.services.acme import certificate_order
from deployments.services.certificates import certificate_acme_request, certificate_upload, certificates_renew_due
from deployments.services.domains import domain_add
from deployments.tests.acme_router import ChallengeRouter, serving
from deployments.tests.tls import TestCA
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "shop.example.com"


@pytest.fixture
def acme(settings, acme_directory):
    settings.BERTH_ACME_DIRECTORY = acme_directory.directory
    settings.BERTH_ACME_CA_BUNDLE = acme_directory.ca_bundle
    settings.BERTH_ACME_EMAIL = "ops@example.com"
    settings.BERTH_APPS_DOMAIN = "apps.example.net"
    # The order waits for the routers through the database, as on a platform with router machines.
    settings.BERTH_ROUTER_INLINE = False
    return acme_directory


def _verify(chain_pem: str, root_pem: str, tmp_path) -> subprocess.CompletedProcess:
    """Run `openssl verify` on the leaf, with the rest of the chain as untrusted intermediates."""
    certs = x509.load_pem_x509_certificates(chain_pem.encode())
    (tmp_path / "root.pem").write_text(root_pem)
    (tmp_path / "leaf.pem").write_bytes(certs[0].public_bytes(encoding=Encoding.PEM))
    (tmp_path / "rest.pem").write_bytes(b"".join(cert.public_bytes(encoding=Encoding.PEM) for cert in certs[1:]))
    return subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "rest.pem", "leaf.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_acme_order_issues_a_certificate_that_verifies_against_the_server_root(acme, app, alice, tmp_path):
    # given
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)
    router = ChallengeRouter(acme.http_port)

    # when
    with serving(router):
        issued = certificate_order(certificate_id=cert.pk)
        router.wait_until(lambda: HOST in router.certificates and not router.challenges)

    # then
    cert.refresh_from_db()
    assert issued is not None
    assert (cert.state, cert.reason, cert.names) == (CertificateState.ISSUED, "", [HOST])
    leaf = x509.load_pem_x509_certificates(cert.chain.encode())[0]
    assert cert.not_after == leaf.not_valid_after_utc > timezone.now() + dt.timedelta(days=60)
    verified = _verify(cert.chain, acme.root_pem(), tmp_path)
    assert (verified.returncode, verified.stdout.strip()) == (0, "leaf.pem: OK"), verified.stderr
    # pebble fetched the answer from the router under the domain's name (from each of its validation perspectives)
    assert {host for host, path in router.requests if path.startswith("/.well-known/acme-challenge/")} == {
        f"{HOST}:{acme.http_port}"
    }
    # the router serves the chain and its key; the challenge is gone from the database and the router
    assert router.certificates == {HOST: cert.chain + crypto.decrypt(cert.private_key)}
    assert (AcmeChallenge.objects.count(), router.challenges) == (0, {})
    assert RouterNode.objects.filter(name="test-acme-router").count() == 1
    assert AcmeAccount.objects.count() == 1
    assert AuditEvent.objects.filter(action="certificate.acme_issued").count() == 1


def test_a_renewal_replaces_the_chain_and_reuses_the_account(
    acme, app, alice, settings, django_capture_on_commit_callbacks
):
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)
    router = ChallengeRouter(acme.http_port)
    with serving(router):
        certificate_order(certificate_id=cert.pk)
        cert.refresh_from_db()
        first_chain, account_key = cert.chain, AcmeAccount.objects.get().private_key
        # pebble issues for five years: a window longer than that makes the certificate due now
        settings.BERTH_CERT_RENEW_DAYS = 3650
        Certificate.objects.filter(pk=cert.pk).update(attempted_at=None)

        queued = certificates_renew_due()
        certificate_order(certificate_id=cert.pk)
        cert.refresh_from_db()
        router.wait_until(lambda: router.certificates[HOST].startswith(cert.chain))

    cert.refresh_from_db()
    assert queued == 1
    assert cert.state == CertificateState.ISSUED
    assert cert.chain != first_chain
    assert AcmeAccount.objects.get().private_key == account_key


def test_a_challenge_answered_wrong_fails_the_order_with_the_reason(acme, app, alice):
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)

    with serving(ChallengeRouter(acme.http_port, answer_wrong=True)):
        certificate_order(certificate_id=cert.pk)

    cert.refresh_from_db()
    assert cert.state == CertificateState.FAILED
    assert cert.reason.startswith(f"The ACME server could not validate {HOST} over HTTP: ")
    assert cert.reason.endswith(f"Check that the DNS of {HOST} points at the router and that port 80 reaches it.")
    assert (cert.chain, cert.private_key, AcmeChallenge.objects.count()) == ("", "", 0)
    assert AuditEvent.objects.get(action="certificate.acme_failed").diff["reason"] == cert.reason


def test_a_failed_renewal_keeps_the_current_chain_serving(acme, app, alice):
    # given: an uploaded certificate, then an ACME order that cannot validate
    ca = TestCA()
    issued = ca.issue(HOST)
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)

    with serving(ChallengeRouter(acme.http_port, answer_wrong=True)) as router:
        router.wait_until(lambda: HOST in router.certificates)
        certificate_order(certificate_id=cert.pk)
        served = dict(router.certificates)

    cert.refresh_from_db()
    assert cert.state == CertificateState.FAILED
    assert cert.chain == issued.chain_pem
    assert served == {HOST: issued.chain_pem + issued.key_pem}


def test_an_unreachable_directory_fails_the_order_with_the_reason(acme, app, alice, settings):
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)
    settings.BERTH_ACME_DIRECTORY = "https://127.0.0.1:9/dir"

    certificate_order(certificate_id=cert.pk)

    cert.refresh_from_db()
    assert cert.state == CertificateState.FAILED
    assert cert.reason.startswith("The ACME directory https://127.0.0.1:9/dir could not be reached: ")


def test_an_order_for_a_certificate_gone_or_uploaded_is_left_alone(acme, app, alice):
    ca = TestCA()
    issued = ca.issue(HOST)
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    uploaded = certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert certificate_order(certificate_id=uploaded.pk) is None
    assert certificate_order(certificate_id=uploaded.pk + 1000) is None
    uploaded.refresh_from_db()
    assert (uploaded.state, uploaded.chain) == (CertificateState.ISSUED, issued.chain_pem)
