"""The OpenAPI schema states the constraints the API enforces: slug patterns and lengths, enums, numeric bounds.

Read from /api/schema/ as a generated client reads it; each constraint is checked against the value the API
enforces (the model's validator and column length, the service's bounds), not against a copy.
"""

import re

import pytest
from django.contrib.auth import get_user_model

from deployments.models import App
from deployments.services import formation
from tenants.models import DNS_LABEL, Role, Scope, Tenant

pytestmark = pytest.mark.django_db

SLUG = {"type": "string", "pattern": DNS_LABEL.regex.pattern, "maxLength": 40}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _path_parameters(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    yield f"{method.upper()} {path}", parameter


def _component(schema, name):
    return schema["components"]["schemas"][name]


def _resolved(schema, prop):
    """A property's schema with a lone $ref (or allOf of one $ref, drf-spectacular's way with a description) inlined."""
    ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
    return _component(schema, ref.rsplit("/", 1)[-1]) if ref else prop


def test_every_path_parameter_states_its_pattern_or_is_an_integer(schema):
    loose = [
        f"{where} {{{parameter['name']}}}"
        for where, parameter in _path_parameters(schema)
        if parameter["schema"].get("type") != "integer"
        and "pattern" not in parameter["schema"]
        and "maxLength" not in parameter["schema"]
    ]

    assert loose == []


def test_tenant_and_app_slugs_state_the_models_pattern_and_length(schema):
    assert Tenant._meta.get_field("slug").max_length == App._meta.get_field("slug").max_length == SLUG["maxLength"]
    slugs = {
        (where, parameter["name"]): parameter["schema"]
        for where, parameter in _path_parameters(schema)
        if parameter["name"] in ("tenant", "app")
    }
    assert len(slugs) > 40
    assert {key: value for key, value in slugs.items() if value != SLUG} == {}
    for component in ("TenantCreateInputRequest", "AppCreateInputRequest"):
        slug = _component(schema, component)["properties"]["slug"]
        assert {key: slug[key] for key in SLUG} == SLUG, component
    assert _component(schema, "TokenCreateInputRequest")["properties"]["tenant"]["pattern"] == SLUG["pattern"]
    assert _component(schema, "HostCreateInputRequest")["properties"]["name"]["pattern"] == SLUG["pattern"]


def test_the_slug_pattern_accepts_what_the_api_accepts_and_no_more():
    pattern = re.compile(SLUG["pattern"])
    for good in ("web", "a", "my-app-2", "x" * 40):
        assert pattern.fullmatch(good), good
    for bad in ("Web", "-web", "web-", "my_app", "a.b", "", "x" * 41):
        assert not pattern.fullmatch(bad), bad


def test_usernames_state_their_length(schema):
    length = get_user_model()._meta.get_field("username").max_length
    names = {
        parameter["schema"]["maxLength"] for _, parameter in _path_parameters(schema) if parameter["name"] == "username"
    }
    assert names == {length}
    assert _component(schema, "MemberCreateInputRequest")["properties"]["username"]["maxLength"] == length


def test_roles_scopes_statuses_and_events_are_enums(schema):
    member = _component(schema, "MemberCreateInputRequest")["properties"]
    assert _resolved(schema, member["role"])["enum"] == list(Role.values)
    scopes = _component(schema, "TokenCreateInputRequest")["properties"]["scopes"]
    assert (_resolved(schema, scopes["items"])["enum"], scopes["minItems"], scopes["maxItems"]) == (
        list(Scope.values),
        1,
        len(Scope.values),
    )
    status = _component(schema, "PatchedHostUpdateInputRequest")["properties"]["status"]
    assert _resolved(schema, status)["enum"] == ["ready", "draining"]
    events = _component(schema, "WebhookInputRequest")["properties"]["events"]
    assert "release.succeeded" in _resolved(schema, events["items"])["enum"]


def test_the_formation_patch_states_the_services_bounds(schema):
    operation = schema["paths"]["/api/v1/tenants/{tenant}/apps/{app}/formation/"]["patch"]
    process = operation["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"]["properties"]

    assert (process["quantity"]["minimum"], process["quantity"]["maximum"]) == (0, formation.MAX_QUANTITY)
    assert (process["cpu"]["minimum"], process["cpu"]["maximum"]) == (
        float(formation.MIN_CPU),
        float(formation.MAX_CPU),
    )
    as_number, as_text = process["memory"]["oneOf"][1], process["memory"]["oneOf"][0]
    assert (as_number["minimum"], as_number["maximum"]) == (formation.MIN_MEMORY_MB, formation.MAX_MEMORY_MB)
    memory = re.compile(as_text["pattern"])
    for size in ("256m", "1g", "512", "64MB"):
        assert memory.match(size) and formation.memory_parse(size), size
    for size in ("lots", "1t", "-5m"):
        assert not memory.match(size), size
