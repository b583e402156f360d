"""`manage.py gc HOST [--dry-run] [--all]`, and the periodic run of embedded mode."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from deployments import loops
from deployments.models import GcRun
from deployments.services import gc as services
from deployments.tests.factories import DockerHostFactory
from deployments.tests.gc.fake_engine import FakeEngine, container, image

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch) -> FakeEngine:
    engine = FakeEngine(
        containers=[container("c0ffee", "freed", finished_at=timezone.now() - timedelta(days=1), berth_app="web")],
        images=[image("freed", "berth/acme/web:1", layers=(("x", 42),)), image("dangling", layers=(("y", 8),))],
    )
    monkeypatch.setattr(services, "engine_gc", engine)
    return engine


def test_gc_dry_run_prints_what_would_go(fake):
    DockerHostFactory(name="h1")
    out = StringIO()

    call_command("gc", "h1", "--dry-run", stdout=out)

    run = GcRun.objects.get()
    assert out.getvalue().splitlines() == [
        f"h1: would remove 1 containers, 2 images, 50 bytes (run {run.pk}).",
        "  container c0ffee c-c0ffee",
        "  image dangling <dangling>",
        "  image freed berth/acme/web:1",
    ]
    assert run.dry_run is True
    assert fake.removed_images == []


def test_gc_removes(fake):
    DockerHostFactory(name="h1")
    out = StringIO()

    call_command("gc", "h1", stdout=out)

    assert out.getvalue().startswith("h1: removed 1 containers, 2 images, 50 bytes")
    assert fake.removed_images == ["sha256:freed", "sha256:dangling"]


def test_gc_all_runs_every_host(fake):
    DockerHostFactory(name="h1")
    DockerHostFactory(name="h2")

    call_command("gc", "--all", "--dry-run", stdout=StringIO())

    assert sorted(GcRun.objects.values_list("host__name", flat=True)) == ["h1", "h2"]


def test_gc_fails_on_an_engine_that_does_not_answer():
    DockerHostFactory(name="down", engine_url="unix:///run/berth-gc-no-such-engine.sock")
    err = StringIO()

    with pytest.raises(CommandError, match="Garbage collection failed on down"):
        call_command("gc", "down", stderr=err)

    assert err.getvalue().startswith("Garbage collection of down stopped: ")
    assert GcRun.objects.get().error.startswith("Garbage collection of down stopped: ")


def test_gc_needs_one_host_or_all(fake):
    DockerHostFactory(name="h1")

    with pytest.raises(CommandError, match="Name one host, or pass --all"):
        call_command("gc")
    with pytest.raises(CommandError, match="Name one host, or pass --all"):
        call_command("gc", "h1", "--all")
    with pytest.raises(CommandError, match="No Docker host is named 'nope'"):
        call_command("gc", "nope")
    assert GcRun.objects.count() == 0


def test_embedded_mode_runs_gc_periodically():
    assert ("gc", loops._run_gc) in loops.background_loops()


def test_embedded_gc_is_off_at_interval_zero(settings, fake):
    settings.BERTH_GC_INTERVAL = 0
    DockerHostFactory(name="h1")

    loops._run_gc()  # returns at once instead of looping

    assert GcRun.objects.count() == 0


def test_embedded_gc_tick_collects_every_host(fake):
    DockerHostFactory(name="h1")
    DockerHostFactory(name="h2")

    loops._collect_garbage()

    assert sorted(GcRun.objects.filter(dry_run=False).values_list("host__name", flat=True)) == ["h1", "h2"]
    assert fake.removed_images == ["sha256:freed", "sha256:dangling"] * 2
