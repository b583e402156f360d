"""The client address in the audit trail: X-Forwarded-For counts only from a configured proxy."""

import json

import pytest
from django.test import Client

from tenants.audit import client_address
from tenants.models import AuditEvent
from tenants.tests.factories import UserFactory


@pytest.mark.parametrize(
    ("trusted", "meta", "expected"),
    [
        ([], {"REMOTE_ADDR": "198.51.100.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "198.51.100.9"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "198.51.100.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "198.51.100.9"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "1.2.3.4"),
        # The client can prepend anything; the right-most untrusted hop is what the proxy saw.
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.2"}, "1.2.3.4"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "not-an-ip"}, "10.0.0.1"),
        (["10.0.0.1"], {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        (["::1"], {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::5"}, "2001:db8::5"),
        ([], {"REMOTE_ADDR": ""}, None),
        ([], {"REMOTE_ADDR": "unix-socket"}, None),
    ],
)
def test_client_address(settings, trusted, meta, expected):
    settings.BERTH_TRUSTED_PROXIES = trusted

    assert client_address(meta) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("trusted", "expected"), [([], "127.0.0.1"), (["127.0.0.1"], "203.0.113.50")])
def test_a_forwarded_address_reaches_the_audit_trail_only_from_a_trusted_proxy(settings, trusted, expected):
    settings.BERTH_TRUSTED_PROXIES = trusted
    client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.50")
    client.force_login(UserFactory(username="alice"))

    response = client.post("/api/v1/tenants/", json.dumps({"slug": "acme"}), content_type="application/json")

    assert response.status_code == 201
    assert list(AuditEvent.objects.values_list("action", "ip")) == [("tenant.create", expected)]
