"""Login lock-out, API rate limits and the security headers of every page."""

import shutil
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from deployments.services.builds.retention import archives_dir
from tenants.models import AuditEvent
from tenants.services import token_create
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # the API throttles count in the cache
    yield
    cache.clear()


def _login(client: Client, password: str):
    return client.post("/login/", {"username": "alice", "password": password})


def test_twenty_wrong_passwords_lock_the_account_and_audit_it_while_its_token_keeps_working():
    # given
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(user=user)
    _token, plaintext = token_create(user=user, scopes=["read"])
    client = Client()

    # when
    answers = [_login(client, "wrong").status_code for _ in range(20)]
    locked = _login(client, PASSWORD)

    # then
    assert answers == [200] * 19 + [429]
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    # One event when the 20th wrong password locks the account, one for the attempt refused while locked.
    events = AuditEvent.objects.filter(action="login.locked")
    assert [(e.target_type, e.target_id, e.diff["username"]) for e in events] == [("user", str(user.pk), "alice")] * 2
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/tenants/").status_code == 200


def test_nineteen_wrong_passwords_then_the_right_one_logs_in():
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    client = Client()

    for _ in range(19):
        _login(client, "wrong")
    response = _login(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert not AuditEvent.objects.filter(action="login.locked").exists()


def test_the_api_answers_429_with_retry_after_past_its_rate(settings):
    # given
    settings.BERTH_API_RATE_USER = "3/min"
    user = UserFactory(username="alice")
    MembershipFactory(user=user)
    _token, plaintext = token_create(user=user, scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    # when
    answers = [api.get("/api/v1/tenants/") for _ in range(4)]

    # then
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[3]["Retry-After"]) <= 60
    assert answers[3].json()["error"]["code"] == "throttled"


@pytest.mark.parametrize("path", ["/login/", "/", "/api/docs/", "/api/v1/tenants/", "/account/"])
def test_every_page_carries_the_content_security_policy(path):
    user = UserFactory(username="alice")
    client = Client()
    client.force_login(user)

    response = client.get(path)

    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_httponly_and_samesite_and_secure_under_https(settings):
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    settings.SESSION_COOKIE_SECURE = True  # what BERTH_HTTPS sets

    response = Client().post("/login/", {"username": "alice", "password": PASSWORD})

    cookie = response.cookies["sessionid"]
    assert (cookie["httponly"], cookie["samesite"], cookie["secure"]) == (True, "Lax", True)


@pytest.mark.parametrize(
    "path",
    [
        "/static/builds/acme/web/1.tar",
        "/static/../builds/acme/web/1.tar",
        "/static/%2e%2e/builds/acme/web/1.tar",
        "/media/builds/acme/web/1.tar",
        "/builds/acme/web/1.tar",
        "/static/git/acme/web.git/HEAD",
    ],
)
def test_uploaded_archives_and_repositories_are_never_served_back(settings, path):
    # given an upload and a repository where Berth keeps them, beside the static files in the data directory
    data = Path(settings.DATA_DIR)
    archive = archives_dir() / "acme" / "web" / "1.tar"
    head = data / "git" / "acme" / "web.git" / "HEAD"
    for file in (archive, head):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"UPLOADED-SOURCE")
    client = Client()
    client.force_login(UserFactory(username="alice", is_staff=True))

    # when
    response = client.get(path)

    # then
    assert response.status_code == 404
    assert b"UPLOADED-SOURCE" not in b"".join(getattr(response, "streaming_content", [response.content]))
    shutil.rmtree(data / "git" / "acme")
    shutil.rmtree(archives_dir() / "acme")
