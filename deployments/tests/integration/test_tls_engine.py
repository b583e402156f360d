"""A Docker host reached over TLS: a real dockerd with --tlsverify, registered, heartbeaten and used like any host.

The engine (scripts/services.sh --tls-host) asks every client for a certificate signed by its CA; Berth checks the
engine's certificate against the host's CA. Certificates of a stranger CA are made here with `cryptography`.
"""

from __future__ import annotations

import datetime
import http.client
import secrets
import time

import docker
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rest_framework.test import APIClient

from deployments import crypto
from deployments.engine import containers, images
from deployments.engine.client import EngineSpec, ping
from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, TENANT_LABEL
from deployments.models import DockerHost, HostStatus
from deployments.services.hosts import host_create, host_heartbeat, host_spec
from deployments.tests.factories import UserFactory
from portal.errors import ApplicationError
from tenants.models import AuditEvent

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _stranger_ca_and_client() -> tuple[str, str, str]:
    """Return (CA, client certificate, client key) PEMs of a CA the engine has never heard of."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return _pem(ca), _pem(client), key_pem


def _get_when_up(port: int, path: str, attempts: int = 50) -> tuple[int, str]:
    """GET `path` on 127.0.0.1:`port`, retrying while httpd is still starting (up to about 5 s)."""
    error: Exception | None = None
    for _ in range(attempts):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode()
        except (ConnectionError, http.client.HTTPException) as exc:
            error = exc
            time.sleep(0.1)
        finally:
            connection.close()
    raise AssertionError(f"nothing answered on 127.0.0.1:{port}{path}: {error!r}")


@pytest.fixture
def staff():
    client = APIClient()
    client.force_authenticate(UserFactory(username="ops", is_staff=True))
    return client


@pytest.fixture
def main_engine_version(docker_engine_url):
    client = docker.DockerClient(base_url=docker_engine_url, timeout=30)
    try:
        return client.version()["Version"]
    finally:
        client.close()


def test_staff_register_the_tls_engine_and_the_heartbeat_reaches_it(staff, tls_docker_engine, main_engine_version):
    # when: staff register the engine with Berth's client certificate and the engine's CA
    response = staff.post(
        "/api/v1/hosts/",
        {
            "name": "tls-edge",
            "engine_url": tls_docker_engine.url,
            "tls_ca": tls_docker_engine.ca,
            "tls_cert": tls_docker_engine.cert,
            "tls_key": tls_docker_engine.key,
        },
        format="json",
    )

    # then: the engine answered over TLS (same dockerd binary as the main engine), the PEMs are stored encrypted
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["status"], body["tls"]) == ("tls-edge", "ready", True)
    assert body["engine_version"] == main_engine_version
    assert "PRIVATE KEY" not in str(body)
    stored = DockerHost.objects.values_list("tls_ca", "tls_cert", "tls_key").get(name="tls-edge")
    assert all(value and "-----BEGIN" not in value for value in stored)
    assert AuditEvent.objects.get(action="host.create").diff["tls"] is True

    # and when the host was marked down, the next heartbeat reaches the engine over TLS and brings it back
    DockerHost.objects.filter(name="tls-edge").update(status=HostStatus.DOWN, engine_version="", last_error="old")
    host = host_heartbeat(host=DockerHost.objects.get(name="tls-edge"))

    assert (host.status, host.engine_version, host.last_error) == (HostStatus.READY, main_engine_version, "")
    assert AuditEvent.objects.filter(action="host.up", target_id=str(host.pk)).count() == 1


def test_a_web_container_pulled_from_the_registry_serves_on_the_tls_host(
    tls_docker_engine, registry_url, sample_image, docker_engine_url
):
    # given: the sample image in the registry, and the TLS host registered through the service
    slug = f"tls{secrets.token_hex(4)}"
    local = EngineSpec(name="local", url=docker_engine_url)
    repository = f"{registry_url}/{slug}/httpd"
    images.tag(local, image=sample_image("httpd"), repository=repository, tag="1")
    images.push(local, repository=repository, tag="1")
    host = host_create(
        actor=None,
        name="tls-run",
        engine_url=tls_docker_engine.url,
        tls_ca=tls_docker_engine.ca,
        tls_cert=tls_docker_engine.cert,
        tls_key=tls_docker_engine.key,
    )
    engine = host_spec(host)
    network = f"berth-{slug}"
    try:
        # when: what a rollout asks of a host, over TLS: the tenant network, the image, a hardened container
        containers.network_ensure(engine, name=network, labels={TENANT_LABEL: slug})
        containers.image_ensure(engine, image=f"{repository}:1")
        started = containers.container_start(
            engine,
            containers.RunSpec(
                name=f"{slug}-web-1",
                image=f"{repository}:1",
                env={"PORT": "5000", "BERTH_RELEASE": "v1"},
                labels={TENANT_LABEL: slug, APP_LABEL: "web", PROCESS_LABEL: "web", INDEX_LABEL: "1"},
                network=network,
                memory_mb=64,
                cpu=0.5,
                port=5000,
            ),
        )

        # then: it runs there, with the labels Berth reads back, and answers on its published loopback port
        listed = containers.containers_list(engine, labels={TENANT_LABEL: slug})
        assert [(row["engine_id"], row["state"]) for row in listed] == [(started.engine_id, "running")]
        assert started.host_port is not None
        assert _get_when_up(started.host_port, "/release.txt") == (200, "v1\n")
        containers.container_stop(engine, engine_id=started.engine_id, grace=2)
        assert containers.containers_list(engine, labels={TENANT_LABEL: slug}) == []
    finally:
        for row in containers.containers_list(engine, labels={TENANT_LABEL: slug}):
            containers.container_remove(engine, engine_id=row["engine_id"])
        containers.network_remove(engine, name=network)
        images.remove(engine, f"{repository}:1")
        images.remove(local, f"{repository}:1")


def test_a_client_certificate_of_another_ca_is_refused_by_the_engine(staff, tls_docker_engine):
    _stranger_ca, stranger_cert, stranger_key = _stranger_ca_and_client()

    response = staff.post(
        "/api/v1/hosts/",
        {
            "name": "tls-stranger",
            "engine_url": tls_docker_engine.url,
            "tls_ca": tls_docker_engine.ca,
            "tls_cert": stranger_cert,
            "tls_key": stranger_key,
        },
        format="json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "engine_unreachable"
    assert error["message"] == (
        f"The engine at {tls_docker_engine.url} did not answer, so the host was not added: "
        "Ping: TLS to engine tls-stranger failed: "
        "the engine refused the client certificate: it must be signed by the CA the daemon trusts"
    )
    assert DockerHost.objects.count() == 0


def test_an_engine_whose_certificate_the_host_ca_did_not_sign_is_refused(tls_docker_engine):
    stranger_ca, _cert, _key = _stranger_ca_and_client()

    with pytest.raises(ApplicationError) as raised:
        host_create(
            actor=None,
            name="tls-wrong-ca",
            engine_url=tls_docker_engine.url,
            tls_ca=stranger_ca,
            tls_cert=tls_docker_engine.cert,
            tls_key=tls_docker_engine.key,
        )

    assert "Ping: TLS to engine tls-wrong-ca failed: the engine's certificate does not verify" in str(
        raised.value.message
    )
    assert DockerHost.objects.count() == 0


def test_the_host_ca_is_used_where_requests_ca_bundle_names_other_cas(monkeypatch, tls_docker_engine, tmp_path):
    # requests lets these replace a session's CA file (psf/requests#3829); Debian images often set them
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(_stranger_ca_and_client()[0])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    spec = EngineSpec(
        name=f"tls-bundle-{secrets.token_hex(3)}",
        url=tls_docker_engine.url,
        tls_ca=tls_docker_engine.ca,
        tls_cert=tls_docker_engine.cert,
        tls_key=tls_docker_engine.key,
    )

    assert ping(spec)["engine_version"]


def test_the_engine_asks_every_client_for_a_certificate(tls_docker_engine, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(tls_docker_engine.ca)

    # the engine's certificate verifies against its CA, yet without a client certificate the API stays shut
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_docker_engine.url.replace("tcp://", "https://") + "/version", verify=str(ca), timeout=10)


def test_a_heartbeat_with_a_refused_certificate_marks_the_host_down_with_the_reason(tls_docker_engine):
    _stranger_ca, stranger_cert, stranger_key = _stranger_ca_and_client()
    host = host_create(
        actor=None,
        name="tls-rotated",
        engine_url=tls_docker_engine.url,
        tls_ca=tls_docker_engine.ca,
        tls_cert=tls_docker_engine.cert,
        tls_key=tls_docker_engine.key,
    )
    # when: the stored client certificate is replaced by one the engine does not trust
    DockerHost.objects.filter(pk=host.pk).update(
        tls_cert=crypto.encrypt(stranger_cert), tls_key=crypto.encrypt(stranger_key)
    )
    host = host_heartbeat(host=DockerHost.objects.get(pk=host.pk))

    assert host.status == HostStatus.DOWN
    assert host.last_error == (
        "Ping: TLS to engine tls-rotated failed: "
        "the engine refused the client certificate: it must be signed by the CA the daemon trusts"
    )
