"""Fixtures of the deployment tests: two tenants with members of every role, and API clients on tokens."""

import itertools
import subprocess
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from deployments.engine import fake as fake_engine_module
from deployments.logs.records import LogRecord
from deployments.services.apps import app_create
from deployments.tests.factories import MembershipFactory, TenantFactory, UserFactory
from tenants.models import Role
from tenants.services import token_create


@pytest.fixture
def tenant():
    return TenantFactory(slug="acme")


@pytest.fixture
def other_tenant():
    return TenantFactory(slug="globex")


@pytest.fixture
def alice(tenant):
    """A developer of acme."""
    return MembershipFactory(tenant=tenant, user=UserFactory(username="alice"), role=Role.DEVELOPER).user


@pytest.fixture
def olivia(tenant):
    """An admin of acme."""
    return MembershipFactory(tenant=tenant, user=UserFactory(username="olivia"), role=Role.ADMIN).user


@pytest.fixture
def victor(tenant):
    """A viewer of acme."""
    return MembershipFactory(tenant=tenant, user=UserFactory(username="victor"), role=Role.VIEWER).user


@pytest.fixture
def mallory(other_tenant):
    """The owner of globex, a stranger to acme."""
    return MembershipFactory(tenant=other_tenant, user=UserFactory(username="mallory"), role=Role.OWNER).user


@pytest.fixture
def app(tenant, alice):
    return app_create(tenant=tenant, slug="web", actor=alice)


@pytest.fixture
def foreign_app(other_tenant, mallory):
    return app_create(tenant=other_tenant, slug="web", actor=mallory)


@pytest.fixture
def api():
    """Return `client(user, scopes=None)`: an APIClient authenticated with a fresh bearer token of `user`."""

    def make(user, scopes=None) -> APIClient:
        held = set().union(*(membership.scopes for membership in user.memberships.all()))
        _token, plaintext = token_create(user=user, scopes=sorted(scopes or held))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        return client

    return make


LOG_CONTAINER = "c0ffee" + "0" * 58


@pytest.fixture
def make_records():
    """Return make(app, count, start=1, process="web", release=1, container=LOG_CONTAINER) -> [LogRecord].

    Lines are "line <start>", "line <start + 1>"...; 1 us apart from 2026-11-28T03:00:01Z on, or at `timestamps_ns`.
    """
    clock = itertools.count(1_795_834_801_000_000_000, 1000)

    def make(
        app, count, *, start=1, process="web", release=1, container=LOG_CONTAINER, stream="stdout", timestamps_ns=None
    ):
        stamps = iter(timestamps_ns) if timestamps_ns is not None else clock
        return [
            LogRecord(
                tenant_id=app.tenant_id,
                tenant=app.tenant.slug,
                app_id=app.pk,
                app=app.slug,
                release=release,
                process=process,
                index=1,
                container=container,
                stream=stream,
                timestamp_ns=next(stamps),
                rank=1,
                line=f"line {n}",
            )
            for n in range(start, start + count)
        ]

    return make


DEBIAN_STACK = "berth-stack/bookworm:1"


@pytest.fixture(scope="session")
def debian_stack(docker_engine_url) -> str:
    """The Debian bookworm stack of scripts/debian-stack.sh: debootstrapped once per machine, then imported."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "debian-stack.sh"
    made = subprocess.run(
        ["bash", str(script), DEBIAN_STACK], capture_output=True, text=True, timeout=1800, check=False
    )
    if made.returncode != 0:
        pytest.fail(f"scripts/debian-stack.sh failed:\n{made.stdout}{made.stderr}", pytrace=False)
    return DEBIAN_STACK


@pytest.fixture
def fake_engine(settings):
    """The in-memory engine (engine/fake.py) in place of dockerd for the test."""
    settings.BERTH_ENGINE = "fake"
    fake = fake_engine_module.FakeEngine()
    previous = fake_engine_module.install(fake)
    yield fake
    fake.close()
    fake_engine_module.install(previous)
