"""What the routers serve of TLS (services/tls.py), on an in-memory router driver."""

import pytest

from deployments.models import AcmeChallenge, Certificate, CertificateSource
from deployments.services.certificates import certificate_remove, certificate_upload, default_certificate_set
from deployments.services.domains import domain_add
from deployments.services.tls import DEFAULT_CERTIFICATE_NAME, tls_apply
from deployments.tests.tls import FakeTlsRouter, TestCA

pytestmark = pytest.mark.django_db

HOST = "www.example.com"


@pytest.fixture(autouse=True)
def apps_domain(settings):
    settings.BERTH_APPS_DOMAIN = "apps.example.net"


@pytest.fixture(scope="module")
def ca():
    return TestCA()


@pytest.fixture
def domain(app, alice):
    return domain_add(app=app, hostname=HOST, actor=alice)


def test_tls_apply_sends_what_changed_only_and_removes_what_is_gone(ca, app, domain, alice):
    issued, shop = ca.issue(HOST), ca.issue("shop.example.com")
    default = ca.issue("*.acme.apps.example.net")
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    shop_domain = domain_add(app=app, hostname="shop.example.com", actor=alice)
    certificate_upload(domain=shop_domain, certificate=shop.chain_pem, private_key=shop.key_pem, actor=alice)
    default_certificate_set(certificate=default.chain_pem, private_key=default.key_pem, actor=alice)
    router = FakeTlsRouter()

    # when: first the whole state, then nothing new, then one change and one removal
    applied = tls_apply(router=router)
    first_calls = list(router.calls)
    applied = tls_apply(router=router, applied=applied)
    quiet_calls = router.calls[len(first_calls) :]
    renewed = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=renewed.chain_pem, private_key=renewed.key_pem, actor=alice)
    certificate_remove(domain=shop_domain, actor=alice)
    mark = len(router.calls)
    tls_apply(router=router, applied=applied)

    # then
    assert sorted(first_calls) == [
        ("cert_put", DEFAULT_CERTIFICATE_NAME),
        ("cert_put", "shop.example.com"),
        ("cert_put", HOST),
    ]
    assert quiet_calls == []
    assert sorted(router.calls[mark:]) == [("cert_put", HOST), ("cert_remove", "shop.example.com")]
    assert router.certificates == {
        DEFAULT_CERTIFICATE_NAME: default.chain_pem + default.key_pem,
        HOST: renewed.chain_pem + renewed.key_pem,
    }


def test_a_wildcard_is_served_under_a_name_no_hostname_has(ca, app, alice):
    wildcard = domain_add(app=app, hostname="*.example.org", actor=alice)
    issued = ca.issue("*.example.org")
    certificate_upload(domain=wildcard, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    router = FakeTlsRouter()

    tls_apply(router=router)

    assert router.calls == [("cert_put", "wildcard_.example.org")]


def test_tls_apply_retries_a_certificate_the_router_refused(ca, domain, alice):
    issued = ca.issue(HOST)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)
    router = FakeTlsRouter(refuse={HOST})

    applied = tls_apply(router=router)
    router.refuse.clear()
    tls_apply(router=router, applied=applied)

    assert applied.certificates == {}
    assert router.calls == [("cert_put", HOST), ("cert_put", HOST)]
    assert router.certificates == {HOST: issued.chain_pem + issued.key_pem}


def test_tls_apply_sets_and_clears_challenge_answers(domain, alice):
    cert = Certificate.objects.create(domain=domain, source=CertificateSource.ACME)
    AcmeChallenge.objects.create(certificate=cert, token="tok1", key_authorization="tok1.thumb")
    router = FakeTlsRouter()

    applied = tls_apply(router=router)
    served = dict(router.challenges)
    AcmeChallenge.objects.all().delete()
    tls_apply(router=router, applied=applied)

    assert served == {"tok1": "tok1.thumb"}
    assert router.calls == [("challenge_set", "tok1"), ("challenge_clear", "tok1")]
    assert router.challenges == {}


def test_a_refused_replacement_is_retried_and_a_later_removal_still_reaches_the_router(ca, domain, alice):
    first, second = ca.issue(HOST), ca.issue(HOST)
    certificate_upload(domain=domain, certificate=first.chain_pem, private_key=first.key_pem, actor=alice)
    router = FakeTlsRouter()
    applied = tls_apply(router=router)
    certificate_upload(domain=domain, certificate=second.chain_pem, private_key=second.key_pem, actor=alice)
    router.refuse.add(HOST)

    applied = tls_apply(router=router, applied=applied)
    still = dict(router.certificates)
    certificate_remove(domain=domain, actor=alice)
    tls_apply(router=router, applied=applied)

    assert still == {HOST: first.chain_pem + first.key_pem}
    assert router.calls == [("cert_put", HOST), ("cert_put", HOST), ("cert_remove", HOST)]
    assert router.certificates == {}
