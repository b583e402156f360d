"""GET/PATCH .../apps/{app}/router/: an app's router settings, validated, audited, then synced to the routers."""

import pytest
from django_tasks_db.models import DBTaskResult

from deployments.models import RouterSettings
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/acme/apps/web/router/"
DEFAULTS = {
    "max_body_mb": 100,
    "connect_timeout_s": 5,
    "read_timeout_s": 60,
    "force_https": False,
    "maintenance": False,
    "maintenance_page": "",
    "allow": [],
}


def _state():
    return (
        list(RouterSettings.objects.values()),
        AuditEvent.objects.filter(action="router.update").count(),
        DBTaskResult.objects.count(),
    )


def test_an_app_that_never_changed_them_has_the_defaults(api, app, victor):
    response = api(victor).get(URL)

    assert (response.status_code, response.json()) == (200, DEFAULTS)
    assert RouterSettings.objects.count() == 0


def test_a_developer_patches_a_subset_and_the_router_sync_is_queued(
    api, app, alice, django_capture_on_commit_callbacks
):
    body = {"maintenance": True, "maintenance_page": "<h1>Back at 5</h1>", "allow": ["203.0.113.7", "10.0.0.0/8"]}

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).patch(URL, body, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {**DEFAULTS, **body, "allow": ["203.0.113.7/32", "10.0.0.0/8"]}
    row = RouterSettings.objects.get(app=app)
    assert (row.maintenance, row.maintenance_page, row.allow) == (
        True,
        "<h1>Back at 5</h1>",
        ["203.0.113.7/32", "10.0.0.0/8"],
    )
    event = AuditEvent.objects.get(action="router.update")
    assert event.diff == {
        "maintenance": True,
        "maintenance_page": "18 bytes",
        "allow": ["203.0.113.7/32", "10.0.0.0/8"],
    }
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == ["deployments.tasks.router_sync_run"]
    assert api(alice).get(URL).json()["maintenance"] is True


def test_an_unchanged_patch_changes_nothing(api, app, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api(alice).patch(URL, {"max_body_mb": 20}, format="json")
    before = _state()

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).patch(URL, {"max_body_mb": 20}, format="json")

    assert response.status_code == 200
    assert _state() == before


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"max_body_mb": 0}, "max_body_mb", "A whole number from 1 to 10240."),
        ({"read_timeout_s": "60"}, "read_timeout_s", "A whole number from 1 to 3600."),
        ({"connect_timeout_s": True}, "connect_timeout_s", "A whole number from 1 to 120."),
        ({"force_https": "yes"}, "force_https", "true or false."),
        ({"allow": ["10.0.0.0/33"]}, "allow", "'10.0.0.0/33' is not an IP address or CIDR range."),
        ({"allow": "10.0.0.0/8"}, "allow", 'A list of addresses or CIDR ranges, e.g. ["203.0.113.0/24"].'),
        ({"maintenance_page": "x" * 8193}, "maintenance_page", "At most 8192 bytes (UTF-8); this page has 8193."),
        ({"proxy_pass": "http://evil"}, "proxy_pass", "Unknown setting."),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(api, app, alice, body, field, message):
    before = _state()

    response = api(alice).patch(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}
    assert _state() == before


def test_a_viewer_cannot_patch_and_another_tenant_sees_no_app(api, app, victor, mallory, foreign_app):
    before = _state()

    assert api(victor).patch(URL, {"maintenance": True}, format="json").status_code == 403
    assert api(mallory).get(URL).status_code == 404
    assert api(mallory).patch(URL, {"maintenance": True}, format="json").status_code == 404
    assert _state() == before
