"""The OpenAPI schema generator: every operation documents the error shape (portal.api.ErrorResponse), and every
path parameter states its pattern and length (path_parameters, a post-processing hook): a `<str:tenant>` converter
says nothing of what a slug may be, and generated clients and fuzzers read it here.
"""

from django.contrib.auth import get_user_model
from drf_spectacular import openapi

from deployments.models import App, DockerHost, Domain
from portal.api import ErrorResponse
from tenants.models import DNS_LABEL, Tenant

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input.",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "The caller's role or token does not allow this.",
    "404": "No such object, or one the caller cannot see (another tenant's).",
}


class AutoSchema(openapi.AutoSchema):
    """Document the error shape on every operation, besides what the view declares."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "404"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.insert(0, "400")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorResponse, code, direction=direction)
                response["description"] = _ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses


def _dns_label(model, field: str) -> dict:
    return {"type": "string", "pattern": DNS_LABEL.regex.pattern, "maxLength": model._meta.get_field(field).max_length}


def _constraints() -> dict[str, dict]:
    return {
        "tenant": _dns_label(Tenant, "slug"),
        "app": _dns_label(App, "slug"),
        "name": _dns_label(DockerHost, "name"),  # a host's, in /api/v1/hosts/{name}/
        "domain": {"type": "string", "maxLength": Domain._meta.get_field("hostname").max_length},
        "username": {"type": "string", "pattern": r"^[\w.@+-]+$", "maxLength": _username_length()},
        # Row numbers taken as strings, so that anything else answers 404 as a missing row does.
        **{name: _ROW_ID for name in ("webhook", "delivery", "drain", "run")},
    }


def _username_length() -> int:
    return get_user_model()._meta.get_field("username").max_length


# A router's lookup is named `id`: an engine id (a prefix of 6 to 64 hex digits) under containers/, a row's elsewhere.
_CONTAINER_ID = {"type": "string", "pattern": "^[0-9a-f]{6,64}$", "maxLength": 64}
_ROW_ID = {"type": "string", "pattern": "^[0-9]+$"}


def path_parameters(result, generator, request, public):
    """State the pattern and length of every path parameter named in _constraints(), and of routers' `id`."""
    constraints = _constraints()
    for path, operations in result.get("paths", {}).items():
        constraints["id"] = _CONTAINER_ID if "/containers/{id}/" in path else _ROW_ID
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else ():
                if parameter.get("in") == "path" and parameter["name"] in constraints:
                    parameter["schema"] = {**parameter.get("schema", {}), **constraints[parameter["name"]]}
    return result
