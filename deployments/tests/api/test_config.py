import pytest

from deployments.models import ConfigVar, Release
from tenants.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/acme/apps/web/config/"


def test_patch_sets_unsets_and_masks_secrets(api, app, alice):
    client = api(alice)
    client.patch(URL, {"OLD": "x"}, format="json")

    response = client.patch(
        URL, {"FOO": "bar", "OLD": None, "API_KEY": {"value": "k3y", "secret": True}}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"API_KEY": "********", "FOO": "bar"}
    assert response.headers["Berth-Release"] == "3"
    assert client.get(URL).json() == {"API_KEY": "********", "FOO": "bar"}
    assert Release.objects.get(app=app, version=3).summary == "alice added API_KEY, FOO, removed OLD"


def test_patch_that_changes_nothing_is_a_409(api, app, alice):
    client = api(alice)
    client.patch(URL, {"FOO": "bar"}, format="json")

    response = client.patch(URL, {"FOO": "bar"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "no_change",
        "message": "No change: every config var already has the value you sent.",
        "fields": {},
    }
    assert Release.objects.filter(app=app).count() == 2


def test_invalid_key_is_a_400_naming_the_field(api, app, alice):
    response = api(alice).patch(URL, {"9LIVES": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "9LIVES": ["Use letters, digits and underscores, not starting with a digit."]
    }
    assert ConfigVar.objects.count() == 0


def test_reveal_needs_the_admin_scope_and_is_audited(api, app, alice, olivia):
    api(alice).patch(URL, {"API_KEY": {"value": "k3y", "secret": True}, "A": "1"}, format="json")

    refused = api(alice).get(URL, {"reveal": "API_KEY"})
    narrowed = api(olivia, scopes=["read", "write"]).get(URL, {"reveal": "API_KEY"})
    revealed = api(olivia).get(URL, {"reveal": "API_KEY"})

    assert (refused.status_code, narrowed.status_code) == (403, 403)
    assert revealed.status_code == 200
    assert revealed.json() == {"A": "1", "API_KEY": "k3y"}
    events = AuditEvent.objects.filter(action="config.reveal")
    token = ApiToken.objects.filter(user=olivia).order_by("-pk").first()
    assert [(event.actor_name, event.diff) for event in events] == [
        ("olivia", {"keys": ["API_KEY"], "token": {"prefix": token.prefix, "name": ""}})
    ]
    assert [event.tenant_id for event in events] == [app.tenant_id]


def test_reveal_of_an_unknown_key_is_a_404(api, app, olivia):
    response = api(olivia).get(URL, {"reveal": "NOPE"})

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="config.reveal").count() == 0


def test_a_viewer_reads_but_cannot_patch(api, app, victor):
    client = api(victor)

    assert client.get(URL).status_code == 200
    assert client.patch(URL, {"A": "1"}, format="json").status_code == 403
    assert ConfigVar.objects.count() == 0


def test_a_secret_file_is_patched_masked_and_detailed_with_its_path(api, app, alice):
    client = api(alice)

    response = client.patch(
        URL, {"DB_PEM": {"value": "pem-body", "file": "/run/secrets/db.pem"}, "FOO": "bar"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"DB_PEM": "********", "FOO": "bar"}
    assert client.get(URL + "?detail=true").json() == {
        "DB_PEM": {"value": "********", "secret": True, "file": "/run/secrets/db.pem"},
        "FOO": {"value": "bar", "secret": False},
    }
    refused = client.patch(URL, {"X": {"value": "v", "file": "/etc/x"}}, format="json")
    assert refused.status_code == 400
    assert "cannot hold a secret file" in refused.json()["error"]["fields"]["X"][0]
