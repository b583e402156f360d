"""The app settings page and the app page's admin controls: description, formation, release command, deletion with
the name typed, container restart and the audited reveal of a secret."""

import pytest

from deployments.models import App, ConfigVar, Container, ContainerState, Formation, Release
from deployments.services.config import config_update
from deployments.tests.factories import DockerHostFactory
from tenants.models import AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db

CANARY = "canary-settings-5d1e"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def web(members):
    """The members fixture; its app web has the web process type app_create gives (1 x 256 MB)."""
    assert Formation.objects.get(app=members["app"]).memory_mb == 256
    return members


def _formation_post(**overrides) -> dict:
    return {
        "process_type": "web",
        "web-quantity": "1",
        "web-memory": "512m",
        "web-cpu": "0.5",
        "web-healthcheck_kind": "http",
        "web-healthcheck": "/healthz",
        "web-healthcheck_timeout": "30",
        **overrides,
    }


def test_a_developer_edits_the_description(client, web):
    client.force_login(web["developer"])

    response = client.post("/t/acme/apps/web/description/", {"description": "The shop front"}, follow=True)

    assert _messages(response) == ["Saved the description."]
    assert App.objects.get(pk=web["app"].pk).description == "The shop front"
    assert b"The shop front" in client.get("/t/acme/apps/web/").content


def test_a_formation_change_makes_a_release_with_the_new_limits_and_health_check(client, web):
    client.force_login(web["developer"])

    response = client.post("/t/acme/apps/web/formation/", _formation_post(), follow=True)

    row = Formation.objects.get(app=web["app"], process_type="web")
    assert (row.memory_mb, str(row.cpu), row.healthcheck_kind, row.healthcheck, row.healthcheck_timeout) == (
        512,
        "0.50",
        "http",
        "/healthz",
        30,
    )
    [message] = _messages(response)
    assert message.startswith("v2: ")
    assert Release.objects.filter(app=web["app"]).count() == 2


def test_a_command_health_check_and_a_bad_memory_size(client, web):
    client.force_login(web["developer"])

    command = client.post(
        "/t/acme/apps/web/formation/",
        _formation_post(**{"web-healthcheck_kind": "command", "web-healthcheck": "test -f /tmp/ready"}),
        follow=True,
    )
    bad = client.post("/t/acme/apps/web/formation/", _formation_post(**{"web-memory": "lots"}), follow=True)

    assert _messages(command)[0].startswith("v2: dana changed web memory to 512m, healthcheck to test -f /tmp/ready")
    row = Formation.objects.get(app=web["app"], process_type="web")
    assert (row.healthcheck_kind, row.healthcheck, row.memory_mb) == ("command", "test -f /tmp/ready", 512)
    assert _messages(bad) == ['web.memory: Use a size like "256m" or "1g", from 16m to 64g.']


def test_the_release_command_is_set_and_cleared(client, web):
    client.force_login(web["developer"])

    client.post("/t/acme/apps/web/release-command/", {"command": "python manage.py migrate"})
    assert App.objects.get(pk=web["app"].pk).release_command == "python manage.py migrate"
    client.post("/t/acme/apps/web/release-command/", {"command": ""})

    assert App.objects.get(pk=web["app"].pk).release_command == ""
    assert Release.objects.filter(app=web["app"]).count() == 3


def test_a_viewer_sees_no_settings_forms_and_forged_posts_change_nothing(client, web):
    client.force_login(web["viewer"])

    page = client.get("/t/acme/apps/web/settings/").content.decode()
    posts = [
        client.post("/t/acme/apps/web/description/", {"description": "pwned"}).status_code,
        client.post("/t/acme/apps/web/formation/", _formation_post()).status_code,
        client.post("/t/acme/apps/web/release-command/", {"command": "rm -rf /"}).status_code,
        client.post("/t/acme/apps/web/delete/", {"confirm": "web"}).status_code,
    ]

    for form_id in ("app-description", "formation-web", "release-command", "app-delete"):
        assert f'id="{form_id}"' not in page
    assert posts == [404, 404, 404, 404]
    app = App.objects.get(pk=web["app"].pk)
    assert (app.description, app.release_command) == ("", "")
    assert Formation.objects.get(app=app).memory_mb == 256


def test_deleting_asks_for_the_name_typed(client, web):
    Membership.objects.filter(user=web["developer"]).update(role=Role.ADMIN)
    client.force_login(web["developer"])

    wrong = client.post("/t/acme/apps/web/delete/", {"confirm": "wbe"})
    right = client.post("/t/acme/apps/web/delete/", {"confirm": "web"}, follow=True)

    assert "Type web exactly; nothing was deleted." in wrong.content.decode()
    assert right.redirect_chain == [("/t/acme/", 302)]
    assert _messages(right) == ["Deleted web; its containers are being stopped."]
    assert App.objects.count() == 0
    assert AuditEvent.objects.filter(action="app.delete").count() == 1


def test_a_developer_may_not_delete(client, web):
    client.force_login(web["developer"])

    assert b'id="app-delete"' not in client.get("/t/acme/apps/web/settings/").content
    assert client.post("/t/acme/apps/web/delete/", {"confirm": "web"}).status_code == 404
    assert App.objects.count() == 1


def test_a_secret_is_masked_and_an_admin_reveals_it_with_an_audit_event(client, web):
    config_update(app=web["app"], values={"API_KEY": {"value": CANARY, "secret": True}}, actor=web["owner"])
    client.force_login(web["owner"])

    page = client.get("/t/acme/apps/web/").content.decode()
    revealed = client.post("/t/acme/apps/web/config/reveal/", {"key": "API_KEY"}, **HTMX)

    assert CANARY not in page
    assert 'aria-label="Reveal API_KEY"' in page
    assert revealed.content.decode().strip() == f'<code class="revealed" aria-label="Value of API_KEY">{CANARY}</code>'
    assert revealed["Cache-Control"] == "no-store"
    assert AuditEvent.objects.get(action="config.reveal").diff == {"keys": ["API_KEY"]}


def test_a_developer_gets_no_reveal_button_and_a_forged_reveal_shows_nothing(client, web):
    config_update(app=web["app"], values={"API_KEY": {"value": CANARY, "secret": True}}, actor=web["owner"])
    client.force_login(web["developer"])

    page = client.get("/t/acme/apps/web/").content.decode()
    forged = client.post("/t/acme/apps/web/config/reveal/", {"key": "API_KEY"}, **HTMX)

    assert "Reveal API_KEY" not in page
    assert forged.status_code == 404
    assert CANARY not in forged.content.decode()
    assert AuditEvent.objects.filter(action="config.reveal").count() == 0
    assert ConfigVar.objects.get(key="API_KEY").secret is True


def test_restarting_a_container_on_a_host_that_does_not_answer_says_so(client, web):
    host = DockerHostFactory(name="gone", engine_url="tcp://127.0.0.1:9")
    release = Release.objects.get(app=web["app"])
    Container.objects.create(
        app=web["app"],
        release=release,
        host=host,
        engine_id="abcdef123456" * 5,
        name="acme-web-web-1",
        process_type="web",
        index=1,
        state=ContainerState.RUNNING,
    )
    client.force_login(web["developer"])

    response = client.post("/t/acme/apps/web/containers/abcdef123456/restart/", follow=True)
    viewer = client.force_login(web["viewer"]) or client.post("/t/acme/apps/web/containers/abcdef123456/restart/")

    [message] = _messages(response)
    assert message.startswith("Container acme-web-web-1 could not be restarted: ")
    assert viewer.status_code == 404
    assert AuditEvent.objects.filter(action="container.restart").count() == 0


@pytest.mark.parametrize("path", ["settings/", "description/", "formation/", "delete/", "config/reveal/"])
def test_another_tenants_user_gets_404(client, web, django_user_model, path):
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))

    method = client.get if path == "settings/" else client.post
    assert method(f"/t/acme/apps/web/{path}").status_code == 404
    assert App.objects.count() == 1
