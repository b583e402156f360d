"""The app page's metrics charts in a real browser: the memory chart draws, then updates without a reload."""

import datetime as dt
import os

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from deployments.models import ContainerEvent, ContainerEventKind
from deployments.services.apps import app_create
from deployments.tests.factories import MetricSampleFactory
from tenants.services import tenant_create

# Playwright's sync API runs an event loop in the test thread; the ORM calls below are plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def _sample(app, at, memory_mb):
    MetricSampleFactory(app=app, at=at, host="local", memory_bytes=memory_mb * MIB)


def test_the_memory_chart_draws_and_updates_and_the_oom_badge_shows(page, live_server, settings):
    settings.BERTH_METRICS_INTERVAL = 2  # the page polls every interval
    user = get_user_model().objects.create_user(username="olivia", password="correct-horse-42")
    tenant = tenant_create(actor=user, slug="acme", name="Acme Inc")
    app = app_create(tenant=tenant, slug="web", actor=user)
    now = timezone.now()
    for minutes in (50, 40, 30):
        _sample(app, now - dt.timedelta(minutes=minutes), 100)
    ContainerEvent.objects.create(
        kind=ContainerEventKind.OOM,
        host="local",
        container="c1",
        tenant_id=tenant.pk,
        tenant_slug="acme",
        app_id=app.pk,
        app_slug="web",
        process_type="web",
    )

    # given the owner on the app page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/t/acme/apps/web/")

    # then the web process's CPU and memory charts draw with the three points, and the OOM badge shows
    page.wait_for_selector("#metrics[data-points='3']", timeout=15000)
    charts = page.locator("#metrics .metrics-process[data-process=web] .uplot")
    assert charts.count() == 2
    assert "web memory" in page.inner_text("#metrics")
    assert page.inner_text("#badge-oom") == "1 OOM kill in 24 h"

    # when a new sample arrives, the chart takes it without a reload
    _sample(app, timezone.now() - dt.timedelta(seconds=5), 120)
    page.wait_for_selector("#metrics[data-points='4']", timeout=15000)
    assert page.locator("#metrics .metrics-process[data-process=web] .uplot").count() == 2
