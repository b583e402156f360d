"""Fixtures of the page tests."""

import pytest
from django.contrib.auth import get_user_model

from deployments.services.apps import app_create
from tenants.models import Role
from tenants.services import member_add, tenant_create


@pytest.fixture
def members():
    """Tenant acme with app web, its owner olivia, developer dana and viewer victor (all with password x)."""
    users = get_user_model().objects
    owner = users.create_user(username="olivia", password="x")
    developer = users.create_user(username="dana", password="x")
    viewer = users.create_user(username="victor", password="x")
    tenant = tenant_create(actor=owner, slug="acme")
    member_add(actor=owner, tenant=tenant, user=developer, role=Role.DEVELOPER)
    member_add(actor=owner, tenant=tenant, user=viewer, role=Role.VIEWER)
    app = app_create(tenant=tenant, slug="web", actor=owner)
    return {"owner": owner, "developer": developer, "viewer": viewer, "app": app}


from deployments.tests.views.portal_site import site  # noqa: E402, F401 (the crawled portal, used by name)
from tenants.tests.authz import authz_world  # noqa: E402, F401 (a fixture of the page matrix, used by name)
