"""`manage.py default_certificate`: the router's default certificate, set by staff from PEM files."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from deployments.models import DefaultCertificate
from deployments.tests.tls import TestCA
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def apps_domain(settings):
    settings.BERTH_APPS_DOMAIN = "apps.example.net"


def _files(tmp_path, issued):
    cert, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_text(issued.chain_pem)
    key.write_text(issued.key_pem)
    return str(cert), str(key)


def test_set_show_and_remove(tmp_path):
    issued = TestCA().issue("*.acme.apps.example.net")
    cert, key = _files(tmp_path, issued)
    out = StringIO()

    call_command("default_certificate", "--cert", cert, "--key", key, stdout=out)
    call_command("default_certificate", "--remove", stdout=out)

    assert out.getvalue().splitlines() == [
        "Default certificate for *.acme.apps.example.net",
        "  issuer:  CN=Berth Test Intermediate",
        f"  expires: {issued.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        "Removed the default certificate.",
    ]
    assert DefaultCertificate.objects.count() == 0
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor_name")) == [
        ("certificate.default_set", "system"),
        ("certificate.default_remove", "system"),
    ]


def test_a_certificate_for_another_domain_is_refused_and_nothing_stored(tmp_path):
    cert, key = _files(tmp_path, TestCA().issue("www.example.com"))

    with pytest.raises(CommandError) as refusal:
        call_command("default_certificate", "--cert", cert, "--key", key, stdout=StringIO())

    assert str(refusal.value) == (
        "certificate: The certificate is for www.example.com, nothing under the apps domain apps.example.net."
    )
    assert (DefaultCertificate.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_without_a_default_it_says_so_and_a_half_pair_is_a_usage_error(tmp_path):
    out = StringIO()

    call_command("default_certificate", stdout=out)
    with pytest.raises(CommandError) as refusal:
        call_command("default_certificate", "--cert", str(tmp_path / "x.pem"), stdout=out)

    assert out.getvalue() == "There is no default certificate; the router presents a self-signed one.\n"
    assert str(refusal.value) == "Give both --cert and --key."
