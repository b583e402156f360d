"""Tokens are stored only as HMAC-SHA256 digests: a dump of the whole database holds none of them in clear."""

import subprocess

import pytest
from django.db import connection

from tenants import services
from tenants.models import ApiToken, Role
from tenants.tests.factories import MembershipFactory
from tenants.tokens import token_digest


def _pg_dump() -> str:
    """Dump the test database (data and schema) with pg_dump, as an operator's backup would."""
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "--host", db["HOST"] or "127.0.0.1", "--port", str(db["PORT"] or 5432)]
    command += ["--username", db["USER"] or "postgres", db["NAME"]]
    env = {"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_after_1000_tokens_holds_none_in_clear():
    assert connection.vendor == "postgresql", "run the suite against PostgreSQL (DATABASE_URL), as CI does"
    membership = MembershipFactory(user__username="alice", tenant__slug="acme", role=Role.ADMIN)
    plaintexts = []
    for number in range(1000):
        tenant = membership.tenant if number % 2 else None
        _, plaintext = services.token_create(user=membership.user, scopes=["read", "deploy"], tenant=tenant)
        plaintexts.append(plaintext)

    dump = _pg_dump()

    # The dump holds the tokens (as digests), so grepping it for the plaintexts means something.
    assert ApiToken.objects.count() == 1000
    assert "COPY public.tenants_apitoken" in dump
    assert all(token_digest(plaintext) in dump for plaintext in plaintexts)
    assert len(set(plaintexts)) == 1000
    leaked = [plaintext for plaintext in plaintexts if plaintext in dump or plaintext[4:] in dump]
    assert leaked == []
