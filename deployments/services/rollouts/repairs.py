"""The reconciler's repairs of an app: desired against running, a crash loop's back-off, what it did, audited.

An app is short when one of its current release's processes runs fewer live containers than the formation asks. Its
repair is a scale (rollouts/enqueue.py), queued under the app's row lock so that two reconcilers never queue two. The
first repair goes at once; one that follows the previous within BERTH_REPAIR_WINDOW seconds waits
BERTH_REPAIR_BACKOFF_BASE x 2^(n-2) seconds (n: the repairs in that streak), up to BERTH_REPAIR_BACKOFF_MAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from deployments.models import LIVE_STATES, App, AppRepair, Container, Deployment, RepairState
from deployments.services.rollouts.enqueue import ACTIVE, scale_enqueue
from deployments.services.rollouts.plan import release_processes
from tenants.audit import audit_record


@dataclass
class Loss:
    """A container the reconciler found dead or gone: what it was and, when the engine still had it, how it ended."""

    app_id: int
    label: str  # "web.1 on second"
    how: str  # "exited with code 1 after 3 restarts", "vanished", "its host is down"
    exit_code: int | None = None
    restart_count: int = 0
    output: str = ""


def backoff_seconds(streak: int) -> int:
    """Return how long the repair number `streak` of a streak waits after the one before it (0 for the first)."""
    if streak <= 1:
        return 0
    return min(settings.BERTH_REPAIR_BACKOFF_BASE * 2 ** (streak - 2), settings.BERTH_REPAIR_BACKOFF_MAX)


def _shortfall(app: App) -> tuple[int, int, list[str]]:
    """Return (desired, running, the processes short of their quantity) for the app's current release."""
    processes = release_processes(release=app.current_release)
    live = dict(
        Container.objects.filter(app=app, release=app.current_release, state__in=LIVE_STATES)
        .values("process_type")
        .annotate(count=Count("id"))
        .values_list("process_type", "count")
    )
    desired = sum(values["quantity"] for values in processes.values())
    running = sum(min(live.get(name, 0), values["quantity"]) for name, values in processes.items())
    short = [name for name, values in processes.items() if live.get(name, 0) < values["quantity"]]
    return desired, running, short


def _observe(*, app: App, losses: list[Loss], desired: int, running: int, now) -> None:
    """Write what this pass saw (counters by expression: two reconcilers may pass at once)."""
    fields = {"desired": desired, "running": running, "checked_at": now}
    if losses:
        fields["replaced"] = F("replaced") + len(losses)
    ended = [loss for loss in losses if loss.exit_code is not None]
    if ended:
        last = ended[-1]
        fields.update(
            last_exit_code=last.exit_code, last_restart_count=last.restart_count, last_output=last.output[-4000:]
        )
    AppRepair.objects.filter(app=app).update(**fields)


def apps_repair(*, losses: list[Loss]) -> set[int]:
    """Bring every app short of its formation back to it (with back-off); record what was seen. Return apps queued."""
    now = timezone.now()
    by_app: dict[int, list[Loss]] = {}
    for loss in losses:
        by_app.setdefault(loss.app_id, []).append(loss)
    apps = App.objects.filter(current_release__build__isnull=False).select_related("tenant", "current_release__build")
    queued = set()
    for app in apps:
        desired, running, short = _shortfall(app)
        AppRepair.objects.get_or_create(app=app)
        _observe(app=app, losses=by_app.get(app.pk, []), desired=desired, running=running, now=now)
        if not short:
            # The back-off stays: a replacement that runs a few seconds and dies again is a crash loop, and its next
            # repair waits for next_repair_at (a pass seeing the app whole between two deaths must not clear it).
            AppRepair.objects.filter(app=app).exclude(state=RepairState.OK).update(state=RepairState.OK)
        elif _queue(app=app, losses=by_app.get(app.pk, []), short=short, now=now):
            queued.add(app.pk)
    return queued


def _queue(*, app: App, losses: list[Loss], short: list[str], now) -> bool:
    """Queue the app's repair unless one is under way or backing off; under the app's row lock, so that two
    reconcilers passing at once queue one."""
    window = timedelta(seconds=settings.BERTH_REPAIR_WINDOW)
    seen = "; ".join(f"{loss.label} {loss.how}" for loss in losses) or "containers missing"
    with transaction.atomic():
        App.objects.select_for_update().filter(pk=app.pk).first()
        repair = AppRepair.objects.select_for_update().get(app=app)
        if Deployment.objects.filter(app=app, status__in=ACTIVE).exists():
            repair.state = RepairState.REPAIRING
            repair.save(update_fields=["state"])
            return False
        if repair.next_repair_at and now < repair.next_repair_at:
            repair.state = RepairState.BACKING_OFF
            repair.last_repair = (
                f"{', '.join(short)} keep(s) dying: {repair.streak} repairs in a row; "
                f"the next one at {repair.next_repair_at:%H:%M:%S} UTC."
            )
            repair.save(update_fields=["state", "last_repair"])
            return False
        deployment = scale_enqueue(app_id=app.pk)
        if deployment is None:
            return False
        streak = repair.streak + 1 if repair.last_repair_at and now - repair.last_repair_at < window else 1
        repair.state = RepairState.REPAIRING
        repair.streak, repair.repairs, repair.last_repair_at = streak, repair.repairs + 1, now
        repair.next_repair_at = now + timedelta(seconds=backoff_seconds(streak + 1))
        repair.last_deployment = deployment
        repair.last_repair = f"Started {', '.join(short)} again ({repair.running} of {repair.desired} running): {seen}."
        repair.save()
        audit_record(
            actor=None,
            tenant=app.tenant,
            action="app.repair",
            target=app,
            diff={
                "deployment": deployment.pk,
                "desired": repair.desired,
                "running": repair.running,
                "seen": [f"{loss.label} {loss.how}" for loss in losses],
                "streak": streak,
            },
        )
    return True
