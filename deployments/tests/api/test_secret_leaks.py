"""A canary secret set through the API shows up nowhere: responses, pages, audit events, logs, a database dump."""

import json
import logging
import subprocess

import pytest
from django.db import connection
from django.test import Client

from deployments.models import Release, ReleaseStatus
from deployments.services.releases import release_deploy_build
from deployments.tests.factories import BuildFactory, MembershipFactory, TenantFactory, UserFactory
from tenants.models import AuditEvent, Role

CANARY = "canary-7f3a9c1e-do-not-leak"
APP = "/api/v1/tenants/acme/apps/web/"


def _dump_database() -> str:
    db = connection.settings_dict
    result = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--no-owner",
            "-h",
            db["HOST"],
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PGPASSWORD": db["PASSWORD"] or ""},
        timeout=120,
    )
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_a_canary_secret_appears_in_no_response_page_audit_event_log_or_dump(api, caplog, settings):
    # given: every logger at DEBUG, SQL included
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    tenant = TenantFactory(slug="acme")
    alice = MembershipFactory(tenant=tenant, user=UserFactory(username="alice"), role=Role.DEVELOPER).user
    olivia = MembershipFactory(tenant=tenant, user=UserFactory(username="olivia"), role=Role.ADMIN).user
    developer, admin = api(alice), api(olivia)
    responses = [developer.post("/api/v1/tenants/acme/apps/", {"slug": "web"}, format="json")]
    app = tenant.apps.get()
    v2 = release_deploy_build(build=BuildFactory(app=app, number=1), actor=alice)
    Release.objects.filter(pk=v2.pk).update(status=ReleaseStatus.SUCCEEDED)

    # when: the canary is set, changed, made plain-looking, and the app goes through every other route
    responses += [
        developer.patch(f"{APP}config/", {"DB_URL": {"value": CANARY, "secret": True}}, format="json"),
        developer.patch(f"{APP}config/", {"DB_URL": CANARY + "-2"}, format="json"),
        developer.patch(f"{APP}config/", {"DB_URL": "********", "OTHER": "x"}, format="json"),
        developer.get(f"{APP}config/"),
        developer.get(f"{APP}config/", {"reveal": "DB_URL"}),
        developer.patch(f"{APP}formation/", {"web": {"memory": "512m"}}, format="json"),
        developer.get("/api/v1/tenants/acme/apps/"),
        developer.get(APP),
        developer.get(f"{APP}releases/"),
        developer.get(f"{APP}releases/3/"),
    ]
    revealed = admin.get(f"{APP}config/", {"reveal": "DB_URL"})
    responses += [
        developer.post(f"{APP}rollback/", {"version": 4}, format="json"),
        developer.post(f"{APP}rollback/", {"version": 2}, format="json"),
        admin.get("/api/v1/tenants/acme/audit/"),
    ]
    page = Client()
    page.force_login(alice)
    responses += [page.get("/"), page.get("/api/v1/tenants/acme/apps/web/config/")]

    # then: the reveal works, and only it shows the value
    assert revealed.json()["DB_URL"] == CANARY + "-2"
    assert [response.status_code for response in responses] == [
        201, 200, 200, 200, 200, 403, 200, 200, 200, 200, 200, 409, 201, 200, 200, 200,
    ]  # fmt: skip
    for response in responses:
        assert CANARY not in response.content.decode()
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "config.reveal" in audit
    assert CANARY not in audit
    assert any(record.name == "django.db.backends" for record in caplog.records)
    assert CANARY not in caplog.text
    assert "DB_URL" in _dump_database()
    assert CANARY not in _dump_database()
