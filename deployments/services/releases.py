"""Releases: numbered, immutable snapshots of a build, the config and the formation.

Every release is created by `release_create` while the app's row is locked (`select_for_update`), so concurrent
changes to one app get consecutive versions with no gap and no duplicate. The rollout is enqueued on commit; until a
rollout picks it up a release waits in `pending`.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from deployments import crypto
from deployments.models import App, Build, BuildStatus, ConfigVar, Formation, HealthcheckKind, Release, ReleaseStatus
from deployments.models.apps import PROCESS_TYPE, WEB_PROCESS
from deployments.services.rollouts import rollout_enqueue
from portal.errors import Conflict, NotFound, QuotaExceeded
from tenants.audit import audit_record
from tenants.models import Tenant
from tenants.services import tenant_lock

SECRET_MASK = "********"  # noqa: S105 - the mask shown instead of a secret, not a password
# The Procfile entry Heroku runs once before a rollout; it is not a process type that runs containers.
RELEASE_PHASE = "release"
FORMATION_FIELDS = ("command", "quantity", "memory_mb", "cpu", "healthcheck_kind", "healthcheck", "healthcheck_timeout")


def actor_name(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "system"


def app_lock(*, app: App) -> App:
    """Lock the app's row until the end of the transaction; every release-creating write takes this lock first."""
    return App.objects.select_for_update().select_related("tenant").get(pk=app.pk)


def config_snapshot(*, app: App) -> dict:
    """{KEY: {"value", "secret"[, "file"]}}, secret values still encrypted exactly as the ConfigVar rows hold them.

    "file" (a path in the container) is there only for a secret file, so older snapshots read the same.
    """
    return {
        var.key: {"value": var.value, "secret": var.secret, **({"file": var.file} if var.file else {})}
        for var in ConfigVar.objects.filter(app=app)
    }


def config_plain(snapshot: dict) -> dict:
    """A snapshot with secret values decrypted, to compare two snapshots whatever key encrypted them."""
    return {
        key: (
            crypto.decrypt(entry["value"]) if entry["secret"] else entry["value"],
            entry["secret"],
            entry.get("file", ""),
        )
        for key, entry in snapshot.items()
    }


def snapshot_masked(snapshot: dict) -> dict:
    return {key: SECRET_MASK if entry["secret"] else entry["value"] for key, entry in sorted(snapshot.items())}


def formation_entry(formation: Formation) -> dict:
    return {
        "command": formation.command,
        "quantity": formation.quantity,
        "memory_mb": formation.memory_mb,
        "cpu": str(Decimal(str(formation.cpu)).quantize(Decimal("0.01"))),
        "healthcheck_kind": formation.healthcheck_kind,
        "healthcheck": formation.healthcheck,
        "healthcheck_timeout": formation.healthcheck_timeout,
        "read_only": formation.read_only,
        "tmp_mb": formation.tmp_mb,
    }


def formation_snapshot(*, app: App) -> dict:
    return {row.process_type: formation_entry(row) for row in Formation.objects.filter(app=app)}


def _without_quantities(formation: dict) -> dict:
    return {ptype: {k: v for k, v in entry.items() if k != "quantity"} for ptype, entry in formation.items()}


def quota_check(*, tenant: Tenant, app: App, proposed: dict[str, tuple[int, int]]) -> None:
    """Refuse a formation of `app` ({type: (quantity, memory_mb)}) that would take the tenant over its quotas."""
    others = Formation.objects.filter(app__tenant=tenant).exclude(app=app)
    totals = others.aggregate(containers=Sum("quantity"), memory=Sum(F("quantity") * F("memory_mb")))
    containers = (totals["containers"] or 0) + sum(quantity for quantity, _ in proposed.values())
    memory = (totals["memory"] or 0) + sum(quantity * memory_mb for quantity, memory_mb in proposed.values())
    if containers > tenant.max_containers:
        raise QuotaExceeded(
            f"This would run {containers} containers; tenant {tenant.slug} may run at most {tenant.max_containers}.",
            fields={"quantity": [f"At most {tenant.max_containers} containers per tenant."]},
        )
    if memory > tenant.max_memory_mb:
        raise QuotaExceeded(
            f"This would reserve {memory} MB of memory; tenant {tenant.slug} may use at most "
            f"{tenant.max_memory_mb} MB.",
            fields={"memory": [f"At most {tenant.max_memory_mb} MB per tenant (quantity x memory)."]},
        )


@transaction.atomic
def release_create(
    *,
    app: App,
    actor,
    summary: str,
    build: Build | None,
    config: dict,
    formation: dict,
    release_command: str,
    rollback_of: int | None = None,
) -> Release:
    """Create the next release of `app`, locking its row (callers that read before writing lock it first)."""
    app = app_lock(app=app)
    latest = Release.objects.filter(app=app).aggregate(version=Max("version"))["version"] or 0
    release = Release(
        app=app,
        version=latest + 1,
        build=build,
        config=config,
        formation=formation,
        release_command=release_command,
        summary=summary[:500],
        rollback_of=rollback_of,
        status=ReleaseStatus.PENDING,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    release.full_clean()
    release.save()
    App.objects.filter(pk=app.pk).update(updated_at=timezone.now())
    audit_record(
        actor=actor,
        tenant=app.tenant,
        action="release.create",
        target=release,
        diff={"version": release.version, "summary": release.summary, "build": build.number if build else None},
    )
    release_id = release.pk
    transaction.on_commit(lambda: rollout_enqueue(release_id=release_id))
    return release


@transaction.atomic
def release_next(*, app: App, actor, summary: str, **changes) -> Release:
    """Create a release that carries the latest one's build, config and formation, with `changes` applied."""
    latest = Release.objects.filter(app=app).order_by("-version").select_related("build").first()
    fields = {
        "build": latest.build if latest else None,
        "config": config_snapshot(app=app),
        "formation": formation_snapshot(app=app),
        "release_command": app.release_command,
    }
    fields.update(changes)
    return release_create(app=app, actor=actor, summary=summary, **fields)


def _process_types_of(build: Build) -> tuple[dict[str, str], str]:
    """The build's process types ({type: command}) and its release-phase command; none means the image's own `web`."""
    types = dict(build.process_types or {})
    release_command = types.pop(RELEASE_PHASE, "") or ""
    for ptype in types:
        PROCESS_TYPE(ptype)
    return types or {WEB_PROCESS: ""}, release_command


def _formation_defaults(ptype: str) -> dict:
    # A web process answers HTTP on $PORT; anything else has nothing to probe until its owner says otherwise.
    if ptype == WEB_PROCESS:
        return {"healthcheck_kind": HealthcheckKind.HTTP, "healthcheck": "/"}
    return {"healthcheck_kind": HealthcheckKind.NONE, "healthcheck": ""}


@transaction.atomic
def release_deploy_build(*, build: Build, actor) -> Release:
    """Release a succeeded build: its process types become the app's formation, its Procfile `release` the command."""
    if build.status != BuildStatus.SUCCEEDED:
        raise Conflict(f"Build {build.number} is {build.status}; only a succeeded build can be deployed.")
    tenant_lock(tenant=build.app.tenant)
    app = app_lock(app=build.app)
    latest = Release.objects.filter(app=app).order_by("-version").first()
    if latest is not None and latest.build_id == build.pk:
        raise Conflict(f"Build {build.number} is already what v{latest.version} runs.", code="no_change")
    types, release_command = _process_types_of(build)
    existing = {row.process_type: row for row in Formation.objects.filter(app=app)}
    Formation.objects.filter(app=app).exclude(process_type__in=types).delete()
    for ptype, command in types.items():
        row = existing.get(ptype) or Formation(app=app, process_type=ptype, **_formation_defaults(ptype))
        row.command = command
        row.full_clean()
        row.save()
    quota_check(
        tenant=app.tenant,
        app=app,
        proposed={row.process_type: (row.quantity, row.memory_mb) for row in Formation.objects.filter(app=app)},
    )
    if release_command != app.release_command:
        app.release_command = release_command
        app.save(update_fields=["release_command"])
    return release_next(app=app, actor=actor, summary=f"{actor_name(actor)} deployed build {build.number}", build=build)


@transaction.atomic
def release_rollback(*, app: App, version: int, actor) -> Release:
    """Create a new release copying an earlier succeeded one (Heroku): its build, config and formation settings.

    The app's config vars and formation go back to what that release had, so the next change starts from it; the
    quantities stay as they are now, since scaling is not part of a release.
    """
    tenant_lock(tenant=app.tenant)
    app = app_lock(app=app)
    target = Release.objects.filter(app=app, version=version).select_related("build").first()
    if target is None:
        raise NotFound(f"{app.slug} has no release v{version}.")
    latest = Release.objects.filter(app=app).order_by("-version").first()
    if target.status == ReleaseStatus.FAILED:
        reason = f": {target.error}" if target.error else ""
        raise Conflict(f"v{version} failed{reason}. Roll back to a release that succeeded.", code="release_failed")
    if target.status != ReleaseStatus.SUCCEEDED:
        raise Conflict(
            f"v{version} never went live (it is {target.status}). Roll back to a release that succeeded.",
            code="release_not_succeeded",
        )
    if target.version == latest.version:
        raise Conflict(f"v{version} is already the latest release.", code="no_change")
    current = formation_snapshot(app=app)
    same = (
        target.build_id == latest.build_id
        and config_plain(target.config) == config_plain(config_snapshot(app=app))
        and _without_quantities(target.formation) == _without_quantities(current)
        and target.release_command == app.release_command
    )
    if same:
        raise Conflict(f"Nothing to roll back: v{version} is identical to v{latest.version}.", code="no_change")

    ConfigVar.objects.filter(app=app).delete()
    now = timezone.now()
    ConfigVar.objects.bulk_create(
        ConfigVar(
            app=app,
            key=key,
            value=entry["value"],
            secret=entry["secret"],
            file=entry.get("file", ""),
            updated_at=now,
        )
        for key, entry in target.config.items()
    )
    Formation.objects.filter(app=app).exclude(process_type__in=list(target.formation)).delete()
    for ptype, entry in target.formation.items():
        quantity = current[ptype]["quantity"] if ptype in current else entry["quantity"]
        Formation.objects.update_or_create(
            app=app,
            process_type=ptype,
            defaults={**{f: entry[f] for f in FORMATION_FIELDS if f in entry}, "quantity": quantity},
        )
    quota_check(
        tenant=app.tenant,
        app=app,
        proposed={row.process_type: (row.quantity, row.memory_mb) for row in Formation.objects.filter(app=app)},
    )
    app.release_command = target.release_command
    app.save(update_fields=["release_command"])
    return release_create(
        app=app,
        actor=actor,
        summary=f"{actor_name(actor)} rolled back to v{version}",
        build=target.build,
        config=config_snapshot(app=app),
        formation=formation_snapshot(app=app),
        release_command=target.release_command,
        rollback_of=version,
    )
