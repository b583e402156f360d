"""Fixtures of the deployment tests: two tenants with members of every role, and API clients on tokens."""

import pytest
from rest_framework.test import APIClient

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
