import datetime as dt

import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import Certificate
from deployments.services.certificates import certificate_upload
from deployments.services.domains import domain_add
from deployments.tests.tls import TestCA
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

HOST = "www.example.com"
DOMAIN_URL = f"/api/v1/tenants/acme/apps/web/domains/{HOST}/"
URL = DOMAIN_URL + "certificate/"


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture(autouse=True)
def setup(settings):
    settings.BERTH_APPS_DOMAIN = "localhost"
    settings.BERTH_ACME_DIRECTORY = "https://127.0.0.1:14000/dir"


@pytest.fixture
def domain(app, alice):
    return domain_add(app=app, hostname=HOST, actor=alice)


def _state():
    return Certificate.objects.count(), AuditEvent.objects.filter(action__startswith="certificate.").count()


def test_upload_answers_the_certificate_and_the_domain_shows_it_without_the_key(ca, api, domain, alice, victor):
    issued = ca.issue(HOST)

    response = api(alice).put(URL, {"certificate": issued.chain_pem, "private_key": issued.key_pem}, format="json")
    shown = api(victor).get(DOMAIN_URL)

    assert response.status_code == 200
    not_after = issued.cert.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    expected = {
        "source": "pem",
        "state": "issued",
        "reason": "",
        "names": [HOST],
        "issuer": "CN=Berth Test Intermediate",
        "not_after": not_after,
    }
    body = response.json()
    assert {key: body[key] for key in expected} == expected
    assert set(body) == {*expected, "not_before", "updated_at"}
    assert shown.status_code == 200
    assert shown.json()["certificate"] == body
    for text in (response.content, shown.content, api(victor).get(DOMAIN_URL[: -len(HOST) - 1]).content):
        assert b"PRIVATE KEY" not in text
        assert issued.key_pem.splitlines()[1].encode() not in text


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("bad_pem", "certificate", "The PEM could not be read as X.509 certificates."),
        ("other_key", "private_key", "The private key does not belong to the certificate (their public keys differ)."),
        ("expired", "certificate", "The certificate expired on {expiry} UTC."),
        ("mismatch", "certificate", "The certificate is for shop.example.org, not www.example.com."),
    ],
)
def test_a_refused_upload_answers_the_error_shape_and_stores_nothing(ca, api, domain, alice, case, field, message):
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(HOST)
    certificate, key = issued.chain_pem, issued.key_pem
    if case == "bad_pem":
        certificate = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    elif case == "other_key":
        key = ca.issue(HOST).key_pem
    elif case == "expired":
        expired = ca.issue(HOST, not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1))
        certificate, key = expired.chain_pem, expired.key_pem
        message = message.format(expiry=f"{expired.cert.not_valid_after_utc:%Y-%m-%d %H:%M}")
    else:
        mismatched = ca.issue("shop.example.org")
        certificate, key = mismatched.chain_pem, mismatched.key_pem

    response = api(alice).put(URL, {"certificate": certificate, "private_key": key}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_certificate", "message": f"{field}: {message}", "fields": {field: [message]}}
    }
    assert _state() == (0, 0)


def test_a_refused_replacement_keeps_the_current_certificate(ca, api, domain, alice):
    current = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=current.chain_pem, private_key=current.key_pem, actor=alice)
    before = list(Certificate.objects.values_list("chain", "private_key", "updated_at"))

    response = api(alice).put(
        URL, {"certificate": current.chain_pem, "private_key": ca.issue(HOST).key_pem}, format="json"
    )

    assert response.status_code == 400
    assert list(Certificate.objects.values_list("chain", "private_key", "updated_at")) == before
    assert _state() == (1, 1)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "certificate", 'Give "certificate" and "private_key" in PEM, or "acme".'),
        ({"certificate": "x"}, "private_key", 'Give "certificate" and "private_key" in PEM, or "acme".'),
        ({"acme": True, "certificate": "x"}, "acme", 'Give either {"acme": true} or a certificate and its key.'),
    ],
)
def test_the_body_is_pem_or_acme(api, domain, alice, body, field, message):
    response = api(alice).put(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": f"{field}: {message}",
        "fields": {field: [message]},
    }
    assert _state() == (0, 0)


def test_acme_answers_202_pending_and_queues_the_order(api, domain, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).put(URL, {"acme": True}, format="json")

    assert response.status_code == 202
    assert (response.json()["source"], response.json()["state"], response.json()["not_after"]) == (
        "acme",
        "pending",
        None,
    )
    cert = Certificate.objects.get()
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.args_kwargs["args"]) == ("deployments.tasks.certificate_order_run", [cert.pk])


def test_acme_without_a_directory_is_a_conflict(api, domain, alice, settings):
    settings.BERTH_ACME_DIRECTORY = ""

    response = api(alice).put(URL, {"acme": True}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "acme_unavailable"
    assert _state() == (0, 0)


def test_delete_removes_the_certificate_and_a_second_delete_is_404(ca, api, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    first = api(alice).delete(URL)
    second = api(alice).delete(URL)

    assert (first.status_code, second.status_code) == (204, 404)
    assert second.json()["error"]["code"] == "not_found"
    assert api(alice).get(DOMAIN_URL).json()["certificate"] is None
    assert Certificate.objects.count() == 0


def test_a_viewer_cannot_upload(ca, api, domain, victor):
    issued = ca.issue(HOST)

    response = api(victor).put(URL, {"certificate": issued.chain_pem, "private_key": issued.key_pem}, format="json")

    assert response.status_code == 403
    assert _state() == (0, 0)


def test_another_tenants_domain_is_404_and_untouched(ca, api, foreign_app, mallory, alice, app):
    issued = ca.issue(HOST)
    theirs = domain_add(app=foreign_app, hostname=HOST, actor=mallory)
    certificate_upload(domain=theirs, certificate=issued.chain_pem, private_key=issued.key_pem, actor=mallory)
    before = list(Certificate.objects.values_list("pk", "chain", "updated_at"))

    put = api(alice).put(URL, {"certificate": issued.chain_pem, "private_key": issued.key_pem}, format="json")
    delete = api(alice).delete(URL)
    foreign = api(alice).delete(f"/api/v1/tenants/globex/apps/web/domains/{HOST}/certificate/")

    assert (put.status_code, delete.status_code, foreign.status_code) == (404, 404, 404)
    assert list(Certificate.objects.values_list("pk", "chain", "updated_at")) == before
