"""Fixtures of the team, member, token and account page tests."""

import pytest
from django.contrib.auth import get_user_model

from tenants.models import Role
from tenants.services import member_add, tenant_create


@pytest.fixture
def team():
    """Team acme (Acme Inc) with owner olivia, admin adam, developer dana and viewer victor (password x)."""
    users = get_user_model().objects
    owner = users.create_user(username="olivia", password="x")
    admin = users.create_user(username="adam", password="x")
    developer = users.create_user(username="dana", password="x")
    viewer = users.create_user(username="victor", password="x")
    tenant = tenant_create(actor=owner, slug="acme", name="Acme Inc")
    member_add(actor=owner, tenant=tenant, user=admin, role=Role.ADMIN)
    member_add(actor=owner, tenant=tenant, user=developer, role=Role.DEVELOPER)
    member_add(actor=owner, tenant=tenant, user=viewer, role=Role.VIEWER)
    return {"tenant": tenant, "owner": owner, "admin": admin, "developer": developer, "viewer": viewer}
