"""Hosts: TLS material is encrypted at rest and decrypted only to reach the engine."""

import stat
from pathlib import Path

import pytest

from deployments import crypto
from deployments.engine.client import EngineSpec, _tls_config
from deployments.models import DockerHost
from deployments.services.hosts import host_create, host_spec
from deployments.tests.factories import DockerHostFactory
from portal.errors import ApplicationError

pytestmark = pytest.mark.django_db


def test_tls_material_is_stored_encrypted_and_decrypted_for_the_engine_only():
    host = DockerHostFactory(
        name="remote",
        engine_url="tcp://10.0.0.5:2376",
        tls_ca=crypto.encrypt("CA PEM"),
        tls_cert=crypto.encrypt("CERT PEM"),
        tls_key=crypto.encrypt("KEY PEM"),
    )

    stored = DockerHost.objects.values_list("tls_ca", "tls_cert", "tls_key").get(pk=host.pk)
    spec = host_spec(host)

    assert "PEM" not in "".join(stored)
    assert (spec.tls_ca, spec.tls_cert, spec.tls_key) == ("CA PEM", "CERT PEM", "KEY PEM")


def test_the_sdk_gets_the_certificates_in_files_only_its_user_reads():
    spec = EngineSpec(name="tls-unit", url="tcp://10.0.0.5:2376", tls_ca="CA", tls_cert="CERT", tls_key="KEY")

    config = _tls_config(spec)

    cert, key = config.cert
    assert (Path(cert).read_text(), Path(key).read_text(), Path(config.ca_cert).read_text()) == ("CERT", "KEY", "CA")
    assert config.verify is True
    for path in (cert, key, config.ca_cert):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(cert).parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.5:2375", "The engine URL must start with unix:// or tcp://."),
        ("tcp://10.0.0.5", "A tcp engine URL needs a host and a port, e.g. tcp://10.0.0.5:2376."),
        ("unix://", "A unix engine URL needs a socket path."),
    ],
)
def test_malformed_engine_urls_are_refused(url, message):
    with pytest.raises(ApplicationError) as raised:
        host_create(actor=None, name="bad", engine_url=url, tls_cert="C", tls_key="K")

    assert raised.value.message == message
    assert DockerHost.objects.count() == 0
