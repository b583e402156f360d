"""The permission table and its gates: every action satisfiable, templates naming only actions, handlers settling."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from tenants.api.base import TenantScopedViewSet
from tenants.models import ROLE_SCOPES, Role
from tenants.permissions import ACTIONS, Permissions, UnknownAction
from tenants.services import member_add, tenant_create
from tenants.tests.authz import call
from tenants.tests.factories import UserFactory


def test_every_tenant_action_is_one_its_least_role_can_do():
    unsatisfiable = [name for name, need in ACTIONS.items() if need.role and need.scope not in ROLE_SCOPES[need.role]]

    assert unsatisfiable == []


def test_staff_and_user_actions_name_no_role():
    assert [name for name, need in ACTIONS.items() if (need.staff or need.role is None) and need.role] == []


@pytest.mark.django_db
def test_the_least_role_decides_beyond_the_scope():
    # given: an admin and an owner hold the same scopes; deleting a tenant takes an owner
    owner = UserFactory(username="o")
    tenant = tenant_create(actor=owner, slug="acme")
    admin = UserFactory(username="a")
    member_add(actor=owner, tenant=tenant, user=admin, role=Role.ADMIN)

    # then
    assert Permissions(user=owner, tenant=tenant).allows("tenant.delete") is True
    assert Permissions(user=admin, tenant=tenant).allows("tenant.delete") is False
    assert Permissions(user=admin, tenant=tenant).allows("tenant.rename") is True


@pytest.mark.django_db
def test_templates_ask_can_and_a_misspelt_action_fails_the_page():
    owner = UserFactory(username="o")
    viewer = UserFactory(username="v")
    tenant = tenant_create(actor=owner, slug="acme")
    member_add(actor=owner, tenant=tenant, user=viewer, role=Role.VIEWER)
    template = engines["django"].from_string("{% if can.app.deploy %}deploy{% endif %}")
    misspelt = engines["django"].from_string("{% if can.app.deplyo %}deploy{% endif %}")

    assert template.render({"can": Permissions(user=owner, tenant=tenant)}) == "deploy"
    assert template.render({"can": Permissions(user=viewer, tenant=tenant)}) == ""
    with pytest.raises(UnknownAction):
        misspelt.render({"can": Permissions(user=owner, tenant=tenant)})


def test_templates_name_only_actions_of_the_table():
    asked = set()
    for directory in settings.TEMPLATES[0]["DIRS"]:
        for path in Path(directory).rglob("*.html"):
            asked |= {f"{area}.{verb}" for area, verb in re.findall(r"\bcan\.(\w+)\.(\w+)", path.read_text())}

    assert asked, "no template asks `can`: the pattern above no longer matches how they ask"
    assert sorted(asked - set(ACTIONS)) == []
    # Templates ask the table, never a scope string ({% if "write" in scopes %}).
    scope_tests = [
        str(p) for p in Path(settings.BASE_DIR, "templates").rglob("*.html") if " in scopes" in p.read_text()
    ]
    assert scope_tests == []


class _Forgetful(TenantScopedViewSet):
    """Leaves the choice between two actions to its handler, and never makes it."""

    permission_actions = {"retrieve": ("config.view", "config.reveal")}

    def retrieve(self, request, tenant):
        return Response({})


@pytest.mark.django_db
def test_a_handler_that_never_settles_its_action_is_an_error():
    owner = UserFactory(username="o")
    tenant_create(actor=owner, slug="acme")
    request = APIRequestFactory().get("/x/")
    force_authenticate(request, user=owner)

    with pytest.raises(ImproperlyConfigured, match="without authorize"):
        _Forgetful.as_view({"get": "retrieve"})(request, tenant="acme")


@pytest.mark.django_db
def test_options_takes_reading_and_head_takes_what_get_takes(authz_world):
    # OPTIONS describes a route (a reader may); HEAD is a GET without its body (the audit trail takes an admin).
    callers = authz_world.callers
    routes = {
        "audit": "/api/v1/tenants/acme/audit/",
        "members": "/api/v1/tenants/acme/members/",
        "tokens": "/api/v1/tokens/",
    }

    outcomes = {
        (method, route, name): call(callers[name], method, url).status_code
        for method in ("OPTIONS", "HEAD")
        for route, url in routes.items()
        for name in ("viewer", "other_owner", "token_read")
    }

    assert outcomes == {
        ("OPTIONS", "audit", "viewer"): 200,
        ("OPTIONS", "audit", "other_owner"): 404,
        ("OPTIONS", "audit", "token_read"): 200,
        ("OPTIONS", "members", "viewer"): 200,
        ("OPTIONS", "members", "other_owner"): 404,
        ("OPTIONS", "members", "token_read"): 200,
        ("OPTIONS", "tokens", "viewer"): 200,
        ("OPTIONS", "tokens", "other_owner"): 200,
        ("OPTIONS", "tokens", "token_read"): 200,
        ("HEAD", "audit", "viewer"): 403,
        ("HEAD", "audit", "other_owner"): 404,
        ("HEAD", "audit", "token_read"): 403,
        ("HEAD", "members", "viewer"): 200,
        ("HEAD", "members", "other_owner"): 404,
        ("HEAD", "members", "token_read"): 200,
        ("HEAD", "tokens", "viewer"): 200,
        ("HEAD", "tokens", "other_owner"): 200,
        ("HEAD", "tokens", "token_read"): 200,
    }
