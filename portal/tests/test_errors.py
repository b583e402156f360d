"""Domain errors: the API's handler turns each kind into its status and the documented shape; pages and commands
show the message."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import RequestFactory

from portal.api import STATUS_OF_KIND, exception_handler
from portal.errors import ApplicationError, Conflict, Forbidden, Invalid, Kind, NotFound, QuotaExceeded, Unavailable
from portal.middleware import ApplicationErrorMiddleware


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("web has no release v9."), 404, "not_found"),
        (Conflict("v6 is already the latest release.", code="no_change"), 409, "no_change"),
        (Invalid("hostname: Not a DNS name.", fields={"hostname": ["Not a DNS name."]}), 400, "invalid"),
        (Forbidden("You cannot grant a role above your own."), 403, "forbidden"),
        (QuotaExceeded("This would run 3 containers."), 422, "quota_exceeded"),
        (Unavailable("OpenSearch at http://x: ConnectionError", code="sink_unavailable"), 503, "sink_unavailable"),
    ],
)
def test_the_handler_maps_each_kind_to_its_status_and_the_error_shape(error, status, code):
    response = exception_handler(error, {})

    assert response.status_code == status
    assert response.data == {"error": {"code": code, "message": error.message, "fields": error.fields}}


def test_every_kind_has_a_status():
    assert set(STATUS_OF_KIND) == set(Kind)
    assert {cls.kind for cls in (NotFound, Conflict, Invalid, Forbidden, QuotaExceeded, Unavailable)} == set(Kind)


def test_fields_come_through_as_given():
    response = exception_handler(Invalid("role: Unknown role.", fields={"role": ["Unknown role."]}), {})

    assert response.data["error"]["fields"] == {"role": ["Unknown role."]}


def test_a_not_found_without_a_message_says_not_found_as_the_url_lookups_always_did():
    by_selector = exception_handler(NotFound(), {})
    by_django = exception_handler(Http404("No such deployment."), {})

    assert by_selector.status_code == by_django.status_code == 404
    assert by_selector.data == by_django.data == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_a_django_validation_error_stays_invalid_with_its_fields():
    response = exception_handler(ValidationError({"slug": ["Enter a valid slug."]}), {})

    assert response.status_code == 400
    assert response.data == {
        "error": {"code": "invalid", "message": "Enter a valid slug.", "fields": {"slug": ["Enter a valid slug."]}}
    }


def test_an_error_that_is_not_a_domain_error_is_left_to_django():
    assert exception_handler(RuntimeError("boom"), {}) is None


# Code that must not know it is answering HTTP: it raises domain errors, and an interface picks the answer.
_PLAIN = [
    "portal/errors.py",
    "tenants/models.py",
    "tenants/selectors.py",
    "tenants/services.py",
    "deployments/models",
    "deployments/selectors",
    "deployments/services",
    "deployments/engine",
]
_HTTP = ("rest_framework", "django.http", "django.shortcuts", "portal.api")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_services_selectors_models_and_engine_import_nothing_of_http():
    root = Path(__file__).resolve().parents[2]
    files = [f for entry in _PLAIN for f in ([root / entry] if entry.endswith(".py") else (root / entry).rglob("*.py"))]
    offenders = {
        str(path.relative_to(root)): sorted(n for n in _imports(path) if n.startswith(_HTTP))
        for path in files
        if any(n.startswith(_HTTP) for n in _imports(path))
    }

    assert len(files) > 30
    assert offenders == {}


def _through_middleware(error: Exception):
    middleware = ApplicationErrorMiddleware(lambda request: None)
    return middleware.process_exception(RequestFactory().get("/"), error)


def test_a_page_that_lets_a_not_found_through_answers_404():
    with pytest.raises(Http404, match=r"^Not found\.$"):
        _through_middleware(NotFound())


def test_a_page_that_lets_a_forbidden_through_answers_403():
    with pytest.raises(PermissionDenied, match=r"^Only platform staff may change quotas\.$"):
        _through_middleware(Forbidden("Only platform staff may change quotas."))


@pytest.mark.parametrize("error", [Conflict("No change."), Invalid("Bad."), RuntimeError("boom")])
def test_other_errors_a_page_lets_through_are_left_to_django(error):
    assert _through_middleware(error) is None


def test_an_application_error_reads_as_its_message():
    error = ApplicationError("Something went wrong.", code="oops")

    assert (str(error), error.code, error.kind, error.fields) == ("Something went wrong.", "oops", Kind.INVALID, {})
