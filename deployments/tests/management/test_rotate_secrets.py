import os
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from deployments import crypto
from deployments.models import (
    AcmeAccount,
    Certificate,
    ConfigVar,
    DefaultCertificate,
    DockerHost,
    Domain,
    LogSink,
    Release,
)
from deployments.services.apps import app_create
from deployments.services.config import config_update
from deployments.services.releases import release_next
from deployments.tests.factories import MembershipFactory, TenantFactory, UserFactory

REPO_DIR = Path(__file__).resolve().parents[3]
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def old_key(settings):
    settings.BERTH_SECRET_KEYS = [Fernet.generate_key().decode()]
    return settings.BERTH_SECRET_KEYS[0]


def _rotate_to_new_key(settings, old_key: str) -> str:
    new_key = Fernet.generate_key().decode()
    settings.BERTH_SECRET_KEYS = [new_key, old_key]
    return new_key


def _every_secret() -> list[str]:
    values = list(ConfigVar.objects.filter(secret=True).values_list("value", flat=True))
    for config in Release.objects.values_list("config", flat=True):
        values += [entry["value"] for entry in config.values() if entry["secret"]]
    for host in DockerHost.objects.all():
        values += [host.tls_key]
    values += list(Domain.objects.values_list("private_key", flat=True))
    values += list(LogSink.objects.values_list("credentials", flat=True))
    for model in (Certificate, DefaultCertificate, AcmeAccount):
        values += list(model.objects.values_list("private_key", flat=True))
    return values


@pytest.mark.django_db
def test_rotate_secrets_re_encrypts_every_kind_of_secret_under_the_newest_key(settings, old_key, app, alice):
    # given: secrets under the old key in config vars, a release snapshot, a host, a domain and a log sink
    config_update(app=app, values={"TOKEN": {"value": "t0ken", "secret": True}, "PLAIN": "p"}, actor=alice)
    host = DockerHost.objects.create(
        name="h1", engine_url="tcp://h1:2376", tls_cert=PEM_CERT, tls_key=crypto.encrypt("KEY PEM")
    )
    Domain.objects.create(app=app, hostname="shop.example.com", private_key=crypto.encrypt("DOMAIN KEY"))
    LogSink.objects.create(tenant=app.tenant, kind="opensearch", credentials=crypto.encrypt("user:pass"))
    Certificate.objects.create(
        domain=Domain.objects.get(), source="pem", chain=PEM_CERT, private_key=crypto.encrypt("CERT KEY")
    )
    DefaultCertificate.objects.create(pk=1, chain=PEM_CERT, private_key=crypto.encrypt("DEFAULT KEY"))
    AcmeAccount.objects.create(pk=1, private_key=crypto.encrypt("ACCOUNT JWK"))
    new_key = _rotate_to_new_key(settings, old_key)
    out = StringIO()

    # when
    call_command("rotate_secrets", batch_size=2, stdout=out)

    # then: readable with the new key alone; a clear-text certificate is left as it was
    settings.BERTH_SECRET_KEYS = [new_key]
    assert crypto.decrypt(ConfigVar.objects.get(key="TOKEN").value) == "t0ken"
    assert ConfigVar.objects.get(key="PLAIN").value == "p"
    assert crypto.decrypt(Release.objects.get(app=app, version=2).config["TOKEN"]["value"]) == "t0ken"
    host.refresh_from_db()
    assert (crypto.decrypt(host.tls_key), host.tls_cert) == ("KEY PEM", PEM_CERT)
    assert crypto.decrypt(Domain.objects.get().private_key) == "DOMAIN KEY"
    assert crypto.decrypt(LogSink.objects.get().credentials) == "user:pass"
    assert crypto.decrypt(Certificate.objects.get().private_key) == "CERT KEY"
    assert crypto.decrypt(DefaultCertificate.objects.get().private_key) == "DEFAULT KEY"
    assert crypto.decrypt(AcmeAccount.objects.get().private_key) == "ACCOUNT JWK"
    assert Certificate.objects.get().chain == PEM_CERT
    assert "certificate keys: done, 1 rotated" in out.getvalue()
    assert "ACME account key: done, 1 rotated" in out.getvalue()
    assert "config vars: done, 1 rotated" in out.getvalue()
    assert "release snapshots: done, 1 rotated" in out.getvalue()

    # and a second run has nothing left to do
    settings.BERTH_SECRET_KEYS = [new_key, old_key]
    again = StringIO()
    call_command("rotate_secrets", stdout=again)
    assert "config vars: done, 0 rotated" in again.getvalue()
    assert "release snapshots: done, 0 rotated" in again.getvalue()


@pytest.mark.django_db
def test_rotate_secrets_reports_a_value_no_key_decrypts_and_leaves_it(settings, old_key, app, alice):
    config_update(app=app, values={"TOKEN": {"value": "t0ken", "secret": True}}, actor=alice)
    lost = ConfigVar.objects.create(
        app=app, key="LOST", secret=True, value=Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    )
    _rotate_to_new_key(settings, old_key)

    with pytest.raises(CommandError, match="1 value\\(s\\) could not be decrypted"):
        call_command("rotate_secrets", stdout=StringIO())

    assert ConfigVar.objects.get(pk=lost.pk).value == lost.value
    assert crypto.encrypted_with_newest_key(ConfigVar.objects.get(key="TOKEN").value)


def _subprocess_env(keys: list[str]) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "BERTH_SECRET_KEYS": ",".join(keys)}


@pytest.mark.django_db(transaction=True)
def test_rotating_10000_secrets_survives_sigkill_midway_and_a_rerun(settings, old_key):
    # given: 10 apps with 1,000 secrets each, and a release of each holding them in its snapshot
    tenant = TenantFactory(slug="bulk")
    alice = MembershipFactory(tenant=tenant, user=UserFactory(username="alice")).user
    expected = {}
    for number in range(10):
        app = app_create(tenant=tenant, slug=f"app{number}", actor=alice)
        rows = []
        for index in range(1000):
            value = f"secret-{number}-{index}"
            expected[(app.pk, f"S{index}")] = value
            rows.append(ConfigVar(app=app, key=f"S{index}", secret=True, value=crypto.encrypt(value)))
        ConfigVar.objects.bulk_create(rows)
        release_next(app=app, actor=alice, summary="alice added 1000 secrets")
    new_key = Fernet.generate_key().decode()
    command = [sys.executable, "manage.py", "rotate_secrets", "--batch-size", "100", "--pause", "0.02"]
    env = _subprocess_env([new_key, old_key])

    # when: the rotation is killed after 3,000 config vars...
    process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.strip() == "config vars: 3000 rotated":
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    process.stdout.close()

    # then: part is under the new key, part under the old, and everything decrypts with both keys configured
    assert process.returncode == -signal.SIGKILL
    settings.BERTH_SECRET_KEYS = [new_key, old_key]
    values = ConfigVar.objects.filter(secret=True).values_list("app_id", "key", "value")
    under_new = sum(crypto.encrypted_with_newest_key(value) for _app, _key, value in values)
    assert 3000 <= under_new < 10000
    assert {(app_id, key): crypto.decrypt(value) for app_id, key, value in values} == expected

    # when: it runs again to the end
    rerun = subprocess.run(command[:-2], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=300)

    # then: 100% of the secrets decrypt with the new key alone
    assert rerun.returncode == 0, rerun.stderr
    assert f"config vars: done, {10000 - under_new} rotated" in rerun.stdout
    settings.BERTH_SECRET_KEYS = [new_key]
    values = ConfigVar.objects.filter(secret=True).values_list("app_id", "key", "value")
    assert {(app_id, key): crypto.decrypt(value) for app_id, key, value in values} == expected
    snapshots = {}
    for release in Release.objects.filter(app__tenant=tenant, version=2):
        for key, entry in release.config.items():
            snapshots[(release.app_id, key)] = crypto.decrypt(entry["value"])
    assert snapshots == expected
