"""HTTPS end to end through a real HAProxy: an uploaded certificate and an ACME one (pebble), served by SNI."""

import socket
import ssl
import time

import pytest
from cryptography import x509

from deployments.router import Route
from deployments.services.acme import certificate_order
from deployments.services.certificates import certificate_acme_request, certificate_remove, certificate_upload
from deployments.services.domains import domain_add
from deployments.services.tls import tls_sync
from deployments.tests.acme_router import following
from deployments.tests.tls import TestCA

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "www.example.com"


def _https_get(port: int, hostname: str, cafile: str) -> tuple[str, str, bytes]:
    """GET / over TLS with SNI `hostname`, verifying the chain against `cafile` and the name as a browser does.

    Returns the leaf's subject, the status line and the body.
    """
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    head, _, body = answer.partition(b"\r\n\r\n")
    return leaf.subject.rfc4514_string(), head.split(b"\r\n")[0].decode(), body


def test_an_uploaded_certificate_answers_over_tls_with_sni(haproxy, upstreams, app, alice, tmp_path, settings):
    # given: the app's route on a real HAProxy, and its custom domain with an uploaded certificate
    settings.BERTH_APPS_DOMAIN = "localhost"
    upstream = upstreams("web-v1")
    haproxy.apply([Route(key="acme__web", hostnames=("web.acme.localhost", HOST), upstreams=(upstream.address,))])
    workers = haproxy.workers()
    ca = TestCA()
    issued = ca.issue(HOST)
    (tmp_path / "root.pem").write_text(issued.root_pem)
    domain = domain_add(app=app, hostname=HOST, actor=alice)
    certificate_upload(domain=domain, certificate=issued.chain_pem, private_key=issued.key_pem, actor=alice)

    # when
    tls_sync(router=haproxy)

    # then: the chain verifies against the CA's root for the name, and the request reaches the app
    subject, status, body = _https_get(haproxy.tls_port, HOST, str(tmp_path / "root.pem"))
    assert (subject, status, body) == (f"CN={HOST}", "HTTP/1.1 200 OK", b"web-v1\n")
    assert haproxy.workers() == workers  # no reload

    # and once removed, the name falls back to the default certificate, which the CA did not sign
    certificate_remove(domain=domain, actor=alice)
    tls_sync(router=haproxy)
    with pytest.raises(ssl.SSLCertVerificationError):
        _https_get(haproxy.tls_port, HOST, str(tmp_path / "root.pem"))
    assert haproxy.workers() == workers


def test_an_acme_certificate_is_issued_through_haproxy_and_served(
    make_haproxy, upstreams, app, alice, tmp_path, settings, acme_directory
):
    # given: HAProxy on the port pebble validates HTTP-01 on, following the database like a router machine
    settings.BERTH_ACME_DIRECTORY = acme_directory.directory
    settings.BERTH_ACME_CA_BUNDLE = acme_directory.ca_bundle
    settings.BERTH_ROUTER_INLINE = False
    haproxy = make_haproxy(port=acme_directory.http_port)
    upstream = upstreams("shop")
    hostname = "shop.example.com"
    haproxy.apply([Route(key="acme__web", hostnames=(hostname,), upstreams=(upstream.address,))])
    workers = haproxy.workers()
    domain = domain_add(app=app, hostname=hostname, actor=alice)
    cert = certificate_acme_request(domain=domain, actor=alice)

    # when: the order runs; HAProxy answers the challenge
    with following(haproxy, name="haproxy-under-test"):
        certificate_order(certificate_id=cert.pk)
        cert.refresh_from_db()
        assert (cert.state, cert.reason) == ("issued", "")
        (tmp_path / "root.pem").write_text(acme_directory.root_pem())
        # then: HAProxy serves the issued chain for the name, and it verifies against pebble's root
        subject, status, body = _wait_served(haproxy.tls_port, hostname, str(tmp_path / "root.pem"))

    leaf = x509.load_pem_x509_certificates(cert.chain.encode())[0]
    assert (subject, status, body) == (leaf.subject.rfc4514_string(), "HTTP/1.1 200 OK", b"shop\n")
    assert haproxy.workers() == workers  # the challenge and the certificate went in at runtime


def _wait_served(port: int, hostname: str, cafile: str, timeout: float = 5.0):
    """The first answer whose chain verifies (the follower pushes the certificate within 0.05 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _https_get(port, hostname, cafile)
        except ssl.SSLCertVerificationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
