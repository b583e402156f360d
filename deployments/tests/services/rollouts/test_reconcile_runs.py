"""The reconciler and one-off runs: a run's container is known by its unfinished Run row, for the run's time limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.engine.labels import INSTALLATION_LABEL
from deployments.models import Run, RunStatus
from deployments.services.rollouts.reconcile import orphans_find
from deployments.tests.factories import AppFactory, ReleaseFactory

pytestmark = pytest.mark.django_db

INSTALLATION = "0123456789abcdef"


def _seen(engine_id: str, age: float) -> dict:
    return {
        "engine_id": engine_id,
        "name": f"run-{engine_id}",
        "state": "running",
        "created": timezone.now().timestamp() - age,
        "labels": {INSTALLATION_LABEL: INSTALLATION},
    }


def _run(number: int, engine_id: str, status: str, started_ago: float) -> Run:
    app = AppFactory() if number == 1 else Run.objects.get(number=1).app
    release = app.releases.first() or ReleaseFactory(app=app, version=1)
    created = timezone.now() - timedelta(seconds=started_ago)
    return Run.objects.create(
        tenant=app.tenant,
        app=app,
        release=release,
        number=number,
        command=["sh"],
        status=status,
        engine_id=engine_id,
        created_at=created,
    )


def test_a_long_run_is_no_orphan_until_its_time_limit_and_the_grace_have_passed(settings):
    # given: limits of 600 s for a run, 300 s of grace for a container without its row
    settings.BERTH_RUN_TIMEOUT, settings.BERTH_ORPHAN_GRACE_SECONDS = 600, 300
    _run(1, "a" * 64, RunStatus.RUNNING, started_ago=800)  # past the grace, within the limit: still running
    _run(2, "b" * 64, RunStatus.RUNNING, started_ago=1000)  # past limit and grace: its supervisor is gone
    _run(3, "c" * 64, RunStatus.SUCCEEDED, started_ago=800)  # ended, yet its container runs
    seen = [_seen("a" * 64, 800), _seen("b" * 64, 1000), _seen("c" * 64, 800), _seen("d" * 64, 800)]

    # when
    orphans = orphans_find(seen=seen, installation=INSTALLATION, now=timezone.now().timestamp())

    # then
    assert sorted(item["engine_id"][0] for item in orphans) == ["b", "c", "d"]
