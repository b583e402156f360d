"""The domains card's certificates: upload a PEM chain and key, order one through ACME, remove it; refusals come
back next to the forms and store nothing; a viewer sees the state and no form."""

import pytest

from deployments.models import Certificate, CertificateState
from deployments.services.domains import domain_add
from deployments.tests.tls import TestCA
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HOST = "www.example.com"
URL = "/t/acme/apps/web/domains/certificate/"


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture
def domain(members):
    return domain_add(app=members["app"], hostname=HOST, actor=members["owner"])


def test_a_developer_uploads_a_certificate_and_the_card_shows_it_issued(client, members, domain, ca):
    issued = ca.issue(HOST)
    client.force_login(members["developer"])

    response = client.post(
        URL,
        {"hostname": HOST, "action": "upload", "certificate": issued.chain_pem, "private_key": issued.key_pem},
        **HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    cert = Certificate.objects.get(domain=domain)
    assert cert.state == CertificateState.ISSUED
    assert 'data-state="issued"' in page
    assert f"valid until {issued.cert.not_valid_after_utc:%Y-%m-%d}" in page
    assert "PRIVATE KEY" not in page
    assert AuditEvent.objects.filter(action="certificate.upload", actor_name="dana").count() == 1


def test_a_bad_pem_is_refused_next_to_the_form_and_nothing_is_stored(client, members, domain, ca):
    other = ca.issue("api.example.com")
    client.force_login(members["developer"])

    broken = client.post(
        URL, {"hostname": HOST, "action": "upload", "certificate": "not a pem", "private_key": "x"}, **HTMX
    )
    mismatch = client.post(
        URL,
        {"hostname": HOST, "action": "upload", "certificate": other.chain_pem, "private_key": other.key_pem},
        **HTMX,
    )

    for response in (broken, mismatch):
        assert response.status_code == 200
        assert 'id="domain-error"' in response.content.decode()
    assert HOST in mismatch.content.decode().split('id="domain-error"')[1]
    assert Certificate.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="certificate.").exists()


def test_an_acme_order_is_pending_and_queued_and_without_a_directory_it_is_refused(
    client, members, domain, settings, django_capture_on_commit_callbacks
):
    client.force_login(members["developer"])
    settings.BERTH_ACME_DIRECTORY = ""

    refused = client.post(URL, {"hostname": HOST, "action": "acme"}, **HTMX)

    assert "This platform has no ACME directory" in refused.content.decode()
    assert Certificate.objects.count() == 0

    settings.BERTH_ACME_DIRECTORY = "https://127.0.0.1:14000/dir"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ordered = client.post(URL, {"hostname": HOST, "action": "acme"}, **HTMX)

    assert 'data-state="pending"' in ordered.content.decode()
    assert Certificate.objects.get(domain=domain).state == CertificateState.PENDING
    assert len(callbacks) == 1  # the order task, queued once the request's transaction commits


def test_removing_the_certificate_falls_back_to_the_default(client, members, domain, ca):
    issued = ca.issue(HOST)
    client.force_login(members["developer"])
    upload = {"hostname": HOST, "action": "upload", "certificate": issued.chain_pem, "private_key": issued.key_pem}
    client.post(URL, upload)

    response = client.post(URL, {"hostname": HOST, "action": "remove"}, follow=True)

    assert response.redirect_chain == [("/t/acme/apps/web/#domains", 302)]
    assert Certificate.objects.count() == 0
    assert 'data-state="none"' in response.content.decode()


def test_a_viewer_sees_the_state_and_no_form_and_a_forged_post_changes_nothing(client, members, domain):
    client.force_login(members["viewer"])

    page = client.get("/t/acme/apps/web/").content.decode()
    forged = client.post(URL, {"hostname": HOST, "action": "acme"})

    assert 'data-state="none"' in page
    assert "Order (ACME)" not in page
    assert "Upload a certificate" not in page
    assert forged.status_code in (403, 404)
    assert Certificate.objects.count() == 0
