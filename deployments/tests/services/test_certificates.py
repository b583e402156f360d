import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from deployments import crypto
from deployments.models import Certificate, CertificateSource, CertificateState, DefaultCertificate
from deployments.services.certificates import (
    RENEWAL_RETRY,
    certificate_acme_request,
    certificate_remove,
    certificate_upload,
    certificates_renew_due,
    default_certificate_remove,
    default_certificate_set,
    name_covers,
)
from deployments.services.domains import domain_add, domain_remove
from deployments.services.routes import routing_version
from deployments.services.tls import tls_sync
from deployments.tests.tls import FakeTlsRouter, TestCA
from portal.errors import ApplicationError, Conflict, Kind
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

HOST = "www.example.com"
ACME_DIRECTORY = "https://127.0.0.1:14000/dir"


@pytest.fixture(autouse=True)
def apps_domain(settings):
    settings.BERTH_APPS_DOMAIN = "apps.example.net"
    settings.BERTH_ACME_DIRECTORY = ACME_DIRECTORY


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture
def domain(app, alice):
    return domain_add(app=app, hostname=HOST, actor=alice)


def _rows():
    return Certificate.objects.count(), AuditEvent.objects.filter(action__startswith="certificate.").count()


@pytest.mark.parametrize(
    ("pattern", "hostname", "covered"),
    [
        ("www.example.com", "www.example.com", True),
        ("WWW.Example.com", "www.example.com", True),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.com", "example.com", False),
        ("w*.example.com", "www.example.com", False),
        ("*.example.com", "*.example.com", True),
        ("www.example.com", "*.example.com", False),
        ("*.example.org", "www.example.com", False),
    ],
)
def test_name_covers_as_a_tls_client_does(pattern, hostname, covered):
    assert name_covers(pattern, hostname) is covered


def test_an_uploaded_certificate_is_issued_with_its_names_and_expiry_and_the_key_encrypted(ca, domain, alice, settings):
    issued = ca.issue(HOST, "example.com")
    version = routing_version()

    cert = certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    cert.refresh_from_db()
    assert (cert.source, cert.state, cert.reason) == (CertificateSource.PEM, CertificateState.ISSUED, "")
    assert cert.names == [HOST, "example.com"]
    assert cert.not_after == issued.cert.not_valid_after_utc
    assert cert.chain == issued.chain_pem
    assert "PRIVATE KEY" not in cert.private_key
    assert crypto.decrypt(cert.private_key) == issued.key_pem
    assert routing_version() == version + 1
    event = AuditEvent.objects.get(action="certificate.upload")
    assert event.diff == {
        "app": "web",
        "hostname": HOST,
        "names": [HOST, "example.com"],
        "not_after": issued.cert.not_valid_after_utc.isoformat(),
    }
    assert "PRIVATE KEY" not in str(event.diff)


def test_a_wildcard_certificate_covers_a_name_below_it(ca, domain, alice):
    issued = ca.issue("*.example.com")

    cert = certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert cert.names == ["*.example.com"]


def test_a_second_upload_replaces_the_first(ca, domain, alice):
    first, second = ca.issue(HOST), ca.issue(HOST)
    certificate_upload(domain=domain, certificate=first.chain_pem, private_key=first.key_pem, actor=alice)

    certificate_upload(domain=domain, certificate=second.chain_pem, private_key=second.key_pem, actor=alice)

    assert list(Certificate.objects.values_list("chain", flat=True)) == [second.chain_pem]


def _refused(domain, alice, certificate, private_key, field, message):
    before = _rows()
    version = routing_version()
    with pytest.raises(ApplicationError) as refusal:
        certificate_upload(domain=domain, certificate=certificate, private_key=private_key, actor=alice)
    assert (refusal.value.code, refusal.value.fields) == ("invalid_certificate", {field: [message]})
    assert (refusal.value.kind, refusal.value.message) == (Kind.INVALID, f"{field}: {message}")
    assert _rows() == before
    assert routing_version() == version


def test_bad_pem_is_refused_and_nothing_is_stored(ca, domain, alice):
    issued = ca.issue(HOST)
    broken = issued.leaf_pem.replace(issued.leaf_pem.splitlines()[3], "AAAA" * 16)

    _refused(domain, alice, "hello", issued.key_pem, "certificate", _NO_PEM)
    _refused(domain, alice, broken, issued.key_pem, "certificate", "The PEM could not be read as X.509 certificates.")
    _refused(
        domain,
        alice,
        issued.chain_pem,
        "nope",
        "private_key",
        "Give the private key in PEM (-----BEGIN PRIVATE KEY-----).",
    )


_NO_PEM = "Give the certificate chain in PEM (-----BEGIN CERTIFICATE-----), the leaf first."


def test_a_key_that_does_not_match_is_refused(ca, domain, alice):
    issued, other = ca.issue(HOST), ca.issue(HOST)

    _refused(
        domain,
        alice,
        issued.chain_pem,
        other.key_pem,
        "private_key",
        "The private key does not belong to the certificate (their public keys differ).",
    )


def test_an_expired_certificate_is_refused(ca, domain, alice):
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(HOST, not_before=now - dt.timedelta(days=100), not_after=now - dt.timedelta(days=10))

    _refused(
        domain,
        alice,
        issued.chain_pem,
        issued.key_pem,
        "certificate",
        f"The certificate expired on {issued.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.",
    )


def test_a_certificate_not_yet_valid_is_refused(ca, domain, alice):
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(HOST, not_before=now + dt.timedelta(days=2))

    _refused(
        domain,
        alice,
        issued.chain_pem,
        issued.key_pem,
        "certificate",
        f"The certificate is not valid before {issued.cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
    )


def test_a_hostname_mismatch_is_refused(ca, domain, alice):
    issued = ca.issue("shop.example.com", "*.www.example.com")

    _refused(
        domain,
        alice,
        issued.chain_pem,
        issued.key_pem,
        "certificate",
        "The certificate is for shop.example.com, *.www.example.com, not www.example.com.",
    )


def test_a_certificate_without_subject_alt_name_is_refused(ca, domain, alice):
    issued = ca.issue()

    _refused(
        domain,
        alice,
        issued.chain_pem,
        issued.key_pem,
        "certificate",
        "The certificate names no DNS name (subjectAltName); TLS clients require one.",
    )


def test_a_chain_out_of_order_is_refused(ca, domain, alice):
    issued = ca.issue(HOST)
    root = issued.root_pem
    intermediate = issued.chain_pem[len(issued.leaf_pem) :]

    _refused(
        domain,
        alice,
        issued.leaf_pem + root + intermediate,
        issued.key_pem,
        "certificate",
        "Certificate 1 of the chain (CN=www.example.com) is not signed by the next one (CN=Berth Test Root): "
        "give the leaf first, then each issuer in order.",
    )
    _refused(
        domain,
        alice,
        intermediate + issued.leaf_pem,
        issued.key_pem,
        "certificate",
        "The key matches a later certificate of the chain: put the leaf first.",
    )


def test_a_leaf_from_another_ca_with_a_foreign_intermediate_is_refused(ca, domain, alice):
    issued, stranger = ca.issue(HOST), TestCA("Stranger").issue(HOST)

    _refused(
        domain,
        alice,
        issued.leaf_pem + stranger.chain_pem[len(stranger.leaf_pem) :],
        issued.key_pem,
        "certificate",
        "Certificate 1 of the chain (CN=www.example.com) is not signed by the next one "
        "(CN=Stranger Intermediate): give the leaf first, then each issuer in order.",
    )


def test_a_key_in_the_certificate_field_or_under_a_passphrase_is_refused(ca, domain, alice):
    issued = ca.issue(HOST)
    locked = issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()

    _refused(
        domain,
        alice,
        issued.chain_pem + issued.key_pem,
        issued.key_pem,
        "certificate",
        "The certificate field holds a private key: give the key in private_key alone.",
    )
    _refused(
        domain,
        alice,
        issued.chain_pem,
        locked,
        "private_key",
        "The key is protected by a passphrase: upload it decrypted.",
    )


def test_remove_deletes_the_certificate_and_audits_it(ca, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    version = routing_version()

    certificate_remove(domain=domain, actor=alice)

    assert Certificate.objects.count() == 0
    assert routing_version() == version + 1
    assert AuditEvent.objects.get(action="certificate.remove").diff == {"app": "web", "hostname": HOST, "source": "pem"}


def test_remove_without_a_certificate_is_a_not_found(domain, alice):
    with pytest.raises(ApplicationError) as refusal:
        certificate_remove(domain=domain, actor=alice)

    assert (refusal.value.code, refusal.value.kind) == ("not_found", Kind.NOT_FOUND)


def test_removing_the_domain_removes_its_certificate(ca, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    domain_remove(domain=domain, actor=alice)

    assert Certificate.objects.count() == 0


# ACME requests


def test_an_acme_request_is_pending_and_queues_the_order(domain, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cert = certificate_acme_request(domain=domain, actor=alice)

    cert.refresh_from_db()
    assert (cert.source, cert.state, cert.chain) == (CertificateSource.ACME, CertificateState.PENDING, "")
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.args_kwargs["args"]) == ("deployments.tasks.certificate_order_run", [cert.pk])
    assert AuditEvent.objects.filter(action="certificate.acme").count() == 1


def test_an_acme_request_keeps_serving_an_uploaded_chain_until_issued(ca, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    cert = certificate_acme_request(domain=domain, actor=alice)

    assert (cert.source, cert.state, cert.chain) == (CertificateSource.ACME, CertificateState.PENDING, issued.chain_pem)


def test_a_second_acme_request_while_pending_is_a_conflict(domain, alice):
    certificate_acme_request(domain=domain, actor=alice)

    with pytest.raises(Conflict) as refusal:
        certificate_acme_request(domain=domain, actor=alice)

    assert refusal.value.code == "acme_pending"
    assert AuditEvent.objects.filter(action="certificate.acme").count() == 1


def test_acme_is_refused_for_a_wildcard_and_without_a_directory(app, alice, settings):
    wildcard = domain_add(app=app, hostname="*.example.org", actor=alice)
    plain = domain_add(app=app, hostname="shop.example.org", actor=alice)

    with pytest.raises(ApplicationError) as wildcard_refusal:
        certificate_acme_request(domain=wildcard, actor=alice)
    settings.BERTH_ACME_DIRECTORY = ""
    with pytest.raises(ApplicationError) as directory_refusal:
        certificate_acme_request(domain=plain, actor=alice)

    assert wildcard_refusal.value.fields == {
        "acme": ["*.example.org is a wildcard: HTTP-01 cannot validate one; upload a certificate for it instead."]
    }
    assert (directory_refusal.value.code, directory_refusal.value.kind) == ("acme_unavailable", Kind.CONFLICT)
    assert _rows() == (0, 0)


# Renewal


def _acme_cert(domain, *, state, not_after, attempted_at=None):
    return Certificate.objects.create(
        domain=domain, source=CertificateSource.ACME, state=state, not_after=not_after, attempted_at=attempted_at
    )


def test_renewal_queues_what_expires_within_the_window_once(app, alice, settings, django_capture_on_commit_callbacks):
    settings.BERTH_CERT_RENEW_DAYS = 30
    now = timezone.now()
    names = ["due.example.com", "later.example.com", "retry.example.com", "waits.example.com", "stale.example.com"]
    due, later, retry, waits, stale = (domain_add(app=app, hostname=name, actor=alice) for name in names)
    due_cert = _acme_cert(due, state=CertificateState.ISSUED, not_after=now + dt.timedelta(days=29))
    _acme_cert(later, state=CertificateState.ISSUED, not_after=now + dt.timedelta(days=31))
    retry_cert = _acme_cert(
        retry,
        state=CertificateState.ISSUED,
        not_after=now + dt.timedelta(days=3),
        attempted_at=now - RENEWAL_RETRY - dt.timedelta(minutes=1),
    )
    _acme_cert(waits, state=CertificateState.ISSUED, not_after=now + dt.timedelta(days=3), attempted_at=now)
    stale_cert = _acme_cert(
        stale, state=CertificateState.PENDING, not_after=None, attempted_at=now - dt.timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = certificates_renew_due()
    with django_capture_on_commit_callbacks(execute=True):
        second = certificates_renew_due()

    assert (first, second) == (3, 0)
    queued = sorted(task.args_kwargs["args"][0] for task in DBTaskResult.objects.all())
    assert queued == sorted([due_cert.pk, retry_cert.pk, stale_cert.pk])


def test_renewal_leaves_uploaded_certificates_alone_and_is_off_without_a_directory(ca, domain, alice, settings):
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(HOST, not_after=now + dt.timedelta(days=2))
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert certificates_renew_due() == 0
    settings.BERTH_ACME_DIRECTORY = ""
    _acme_cert(domain_add(app=domain.app, hostname="due.example.com", actor=alice), state="issued", not_after=now)
    assert certificates_renew_due() == 0


# The default certificate


def test_staff_set_a_default_certificate_for_the_apps_domain(ca, alice):
    issued = ca.issue("*.acme.apps.example.net", "*.globex.apps.example.net")

    default = default_certificate_set(certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert (default.pk, default.names) == (1, ["*.acme.apps.example.net", "*.globex.apps.example.net"])
    assert crypto.decrypt(DefaultCertificate.objects.get().private_key) == issued.key_pem
    assert default_certificate_remove(actor=alice) is True
    assert default_certificate_remove(actor=alice) is False
    assert DefaultCertificate.objects.count() == 0


def test_a_default_certificate_for_nothing_under_the_apps_domain_is_refused(ca, alice):
    issued = ca.issue("www.example.com")

    with pytest.raises(ApplicationError) as refusal:
        default_certificate_set(certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert refusal.value.fields == {
        "certificate": ["The certificate is for www.example.com, nothing under the apps domain apps.example.net."]
    }
    assert DefaultCertificate.objects.count() == 0


def test_an_rsa_or_ecdsa_key_other_than_p256_is_accepted(ca, domain, alice):
    issued = ca.issue(HOST, key=ec.generate_private_key(ec.SECP384R1()))

    cert = certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    assert cert.state == CertificateState.ISSUED


def test_tls_sync_remembers_what_each_driver_serves(ca, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    first, second = FakeTlsRouter(), FakeTlsRouter()

    tls_sync(router=first)
    tls_sync(router=first)
    tls_sync(router=second)

    assert first.calls == [("cert_put", HOST)]
    assert second.calls == [("cert_put", HOST)]
