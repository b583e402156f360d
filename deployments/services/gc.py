"""Garbage collection of a Docker host, after spotify/docker-gc: what Berth made and no longer needs goes.

Berth removes only what it owns:
- exited containers labelled `berth.app` (the release-phase one-offs carry it too) that finished more than
  BERTH_GC_GRACE_SECONDS ago;
- images it built or pulled for releases (repository `<BERTH_REGISTRY or berth>/<tenant>/<app>`, or an image a Build
  names by reference or id), and dangling images;
- the engine's unused build cache.

It keeps any image a container uses (running or not, Berth's or not, after this run's container removals), images
created within the grace period (a build in progress commits untagged images), the images of each app's current
release, of its last BERTH_GC_KEEP_RELEASES succeeded releases, of releases being deployed and of builds younger than
the grace period, and anything matching BERTH_GC_EXCLUDE (image reference globs).

A dry run computes the same plan and records it without removing anything. The bytes reclaimed are the layers only
the removed images held (a layer shared with a kept image frees nothing) plus the build cache the engine freed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from deployments.engine import gc as engine_gc
from deployments.engine import secret_files
from deployments.engine.client import EngineError
from deployments.engine.labels import APP_LABEL, INSTALLATION_LABEL, PROCESS_LABEL, TENANT_LABEL
from deployments.models import App, Build, DockerHost, GcRun, Release, ReleaseStatus
from deployments.services.hosts import host_spec
from deployments.services.images import image_namespaces
from deployments.services.installation import installation_id
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

# First key of the PostgreSQL advisory lock that one GC of a host holds (the second is the host's id).
LOCK_CLASS = 0x6763
_local_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_OWNED_PATH = re.compile(r"^[a-z0-9-]+/[a-z0-9-]+$")


@dataclass(frozen=True)
class GcPolicy:
    grace_seconds: int
    keep_releases: int
    exclude: tuple[str, ...]
    repositories: tuple[str, ...]
    # This installation's id: exited containers labelled with another installation's (an engine shared by two
    # installations) are that one's to collect.
    installation: str = ""

    def as_dict(self) -> dict:
        return {"grace_seconds": self.grace_seconds, "keep_releases": self.keep_releases, "exclude": list(self.exclude)}


@dataclass
class Keep:
    """What the database says about images: which must stay, and which Berth made."""

    references: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)
    owned_references: set[str] = field(default_factory=set)
    owned_digests: set[str] = field(default_factory=set)


@dataclass
class Plan:
    containers: list[engine_gc.EngineContainer] = field(default_factory=list)
    images: list[engine_gc.EngineImage] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def gc_policy() -> GcPolicy:
    """Return the policy the settings describe."""
    return GcPolicy(
        grace_seconds=settings.BERTH_GC_GRACE_SECONDS,
        keep_releases=settings.BERTH_GC_KEEP_RELEASES,
        exclude=tuple(pattern for pattern in settings.BERTH_GC_EXCLUDE if pattern),
        # Builds tag `berth/<tenant>/<app>` when no registry is configured; images of both stay Berth's.
        repositories=image_namespaces(),
        installation=installation_id(),
    )


def normalize_reference(reference: str) -> str:
    """Write an image reference the way the engine lists it: no docker.io/library/ prefix, a tag unless a digest."""
    reference = reference.strip()
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if reference.startswith(prefix):
            reference = reference.removeprefix(prefix)
            break
    if "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else f"{reference}:latest"


def _repository(reference: str) -> str:
    """Return the repository of `repo:tag` or `repo@digest`, where repo may carry a registry port."""
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _add_build(keep_refs: set[str], keep_digests: set[str], build: Build) -> None:
    for reference in (build.image, (build.source or {}).get("image", "")):
        if reference:
            keep_refs.add(normalize_reference(reference))
    if build.digest:
        keep_digests.add(build.digest.split("@")[-1])


def gc_keep(*, policy: GcPolicy, now: datetime | None = None) -> Keep:
    """Collect, from the database, the images that must stay and the ones Berth made."""
    now = now or timezone.now()
    keep = Keep()
    kept_release_ids: set[int] = set()
    for app in App.objects.only("pk", "current_release_id"):
        if app.current_release_id:
            kept_release_ids.add(app.current_release_id)
        recent = (
            Release.objects.filter(app=app, status=ReleaseStatus.SUCCEEDED)
            .order_by("-version")
            .values_list("pk", flat=True)[: policy.keep_releases]
        )
        kept_release_ids.update(recent)
    in_flight = Release.objects.filter(status__in=[ReleaseStatus.PENDING, ReleaseStatus.DEPLOYING])
    kept_release_ids.update(in_flight.values_list("pk", flat=True))
    releases = Release.objects.filter(pk__in=kept_release_ids, build__isnull=False).select_related("build")
    for release in releases:
        _add_build(keep.references, keep.digests, release.build)
    # A build that just finished may not have its release yet.
    for build in Build.objects.filter(created_at__gte=now - timedelta(seconds=policy.grace_seconds)):
        _add_build(keep.references, keep.digests, build)
    for build in Build.objects.only("image", "source", "digest"):
        _add_build(keep.owned_references, keep.owned_digests, build)
    return keep


def _names(image: engine_gc.EngineImage) -> tuple[str, ...]:
    return (*image.tags, *image.digests)


def _digests(image: engine_gc.EngineImage) -> set[str]:
    return {image.image_id} | {digest.split("@", 1)[1] for digest in image.digests if "@" in digest}


def _owned(image: engine_gc.EngineImage, *, policy: GcPolicy, keep: Keep) -> bool:
    if image.dangling:
        return True
    for name in _names(image):
        repository = _repository(name)
        for prefix in policy.repositories:
            if repository.startswith(prefix + "/") and _OWNED_PATH.match(repository.removeprefix(prefix + "/")):
                return True
    return bool(set(_names(image)) & keep.owned_references or _digests(image) & keep.owned_digests)


def _excluded(image: engine_gc.EngineImage, *, policy: GcPolicy) -> bool:
    return any(
        fnmatch.fnmatchcase(name, pattern) for pattern in policy.exclude for name in (*_names(image), image.image_id)
    )


def plan_containers(
    *, inventory: engine_gc.Inventory, policy: GcPolicy, now: datetime, plan: Plan | None = None
) -> Plan:
    """Choose the exited Berth containers older than the grace period."""
    plan = plan or Plan()
    cutoff = now - timedelta(seconds=policy.grace_seconds)
    for container in inventory.containers:
        if APP_LABEL not in container.labels:
            continue
        if container.labels.get(INSTALLATION_LABEL, policy.installation) != policy.installation:
            plan.kept["other_installation"] += 1
            continue
        if container.state not in ("exited", "dead"):
            continue
        if container.finished_at is None or container.finished_at > cutoff:
            plan.kept["young_containers"] += 1
            continue
        plan.containers.append(container)
    return plan


def plan_images(
    *,
    inventory: engine_gc.Inventory,
    policy: GcPolicy,
    keep: Keep,
    removed_containers: set[str],
    now: datetime,
    plan: Plan,
) -> Plan:
    """Choose the images nothing needs, once the containers in `removed_containers` are gone."""
    in_use = {c.image_id for c in inventory.containers if c.engine_id not in removed_containers}
    cutoff = (now - timedelta(seconds=policy.grace_seconds)).timestamp()
    for image in inventory.images:
        if image.image_id in in_use:
            plan.kept["in_use"] += 1
        elif not _owned(image, policy=policy, keep=keep):
            plan.kept["not_owned"] += 1
        elif image.created > cutoff:
            # A build in progress commits an untagged image at each step: it must not vanish under the builder.
            plan.kept["young_images"] += 1
        elif _excluded(image, policy=policy):
            plan.kept["excluded"] += 1
        elif set(_names(image)) & keep.references or _digests(image) & keep.digests:
            plan.kept["release"] += 1
        else:
            plan.images.append(image)
    return plan


def reclaimed_bytes(*, images: list[engine_gc.EngineImage], removed: set[str]) -> int:
    """Return the bytes of the layers that only images in `removed` hold."""
    holders: dict[str, set[str]] = defaultdict(set)
    sizes: dict[str, int] = {}
    for image in images:
        for chain_id, size in image.layers:
            holders[chain_id].add(image.image_id)
            sizes[chain_id] = size
    return sum(sizes[chain_id] for chain_id, ids in holders.items() if ids <= removed)


def _short(engine_id: str) -> str:
    return engine_id.removeprefix("sha256:")[:12]


def _container_row(container: engine_gc.EngineContainer) -> dict:
    labels = container.labels
    return {
        "id": _short(container.engine_id),
        "name": container.name,
        "app": f"{labels.get(TENANT_LABEL, '')}/{labels.get(APP_LABEL, '')}",
        "process": labels.get(PROCESS_LABEL, ""),
        "image": _short(container.image_id),
        "finished_at": container.finished_at.isoformat() if container.finished_at else None,
    }


def _image_row(image: engine_gc.EngineImage) -> dict:
    return {
        "id": _short(image.image_id),
        "tags": list(image.tags),
        "size_bytes": image.size,
        "reason": "dangling" if image.dangling else "unused",
    }


def _collect(*, host: DockerHost, dry_run: bool, policy: GcPolicy, keep: Keep, now: datetime) -> tuple[dict, int]:
    """Talk to the engine: plan, and unless `dry_run` remove; return (removed, bytes). Raise EngineError."""
    spec = host_spec(host)
    inventory = engine_gc.inventory(spec, inspect_label=APP_LABEL)
    plan = plan_containers(inventory=inventory, policy=policy, now=now)
    errors: list[str] = []
    removed_containers: list[engine_gc.EngineContainer] = []
    for container in plan.containers:
        if dry_run:
            removed_containers.append(container)
            continue
        try:
            engine_gc.container_remove(spec, engine_id=container.engine_id)
            removed_containers.append(container)
        except EngineError as error:
            if error.unreachable:
                raise
            errors.append(error.message)
    # What a crash left of secret files (a holder whose container is gone, an unused tmpfs volume) goes too.
    swept = {"holders": 0, "volumes": 0} if dry_run else secret_files.secrets_sweep(spec)
    plan_images(
        inventory=inventory,
        policy=policy,
        keep=keep,
        removed_containers={c.engine_id for c in removed_containers},
        now=now,
        plan=plan,
    )
    removed_images: list[engine_gc.EngineImage] = []
    for image in plan.images:
        if dry_run:
            removed_images.append(image)
            continue
        try:
            engine_gc.image_remove(spec, image=image)
            removed_images.append(image)
        except EngineError as error:
            if error.unreachable:
                raise
            errors.append(error.message)
    image_bytes = reclaimed_bytes(images=inventory.images, removed={image.image_id for image in removed_images})
    cache_bytes = engine_gc.build_cache_reclaimable(spec) if dry_run else engine_gc.build_cache_prune(spec)
    removed = {
        # Sorted, so that a dry run and the real run list the same things in the same order whatever order the
        # engine listed them in.
        "containers": sorted((_container_row(c) for c in removed_containers), key=lambda row: row["id"]),
        "images": sorted((_image_row(image) for image in removed_images), key=lambda row: row["id"]),
        "image_bytes": image_bytes,
        "build_cache": {"supported": cache_bytes is not None, "bytes": cache_bytes or 0},
        "secret_files": swept,
        "kept": dict(sorted(plan.kept.items())),
        "errors": errors,
        "policy": policy.as_dict(),
    }
    return removed, image_bytes + (cache_bytes or 0)


@contextlib.contextmanager
def _host_lock(host: DockerHost) -> Iterator[bool]:
    """Hold the GC lock of `host` (yield True), or yield False when another run holds it.

    PostgreSQL's session advisory lock spans processes and is held outside any transaction, so no Docker call runs
    inside one; SQLite (embedded mode, one process) takes a lock of this process.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, host.pk])
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, host.pk])
        return
    lock = _local_locks[host.pk]
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def gc_run(*, host: DockerHost, dry_run: bool, actor=None, policy: GcPolicy | None = None) -> GcRun:
    """Collect the garbage of `host` (or only list it when `dry_run`), record the GcRun and audit it.

    An engine that does not answer, or another run of the same host in progress, gives a GcRun with the reason in
    `error`, and nothing is removed.
    """
    policy = policy or gc_policy()
    started = timezone.now()
    keep = gc_keep(policy=policy, now=started)
    error = ""
    removed: dict = {}
    bytes_reclaimed = 0
    with _host_lock(host) as acquired:
        if not acquired:
            error = f"Garbage collection of {host.name} did not start: another run on this host is in progress."
        else:
            try:
                removed, bytes_reclaimed = _collect(host=host, dry_run=dry_run, policy=policy, keep=keep, now=started)
            except EngineError as exc:
                error = f"Garbage collection of {host.name} stopped: {exc.message}"
    if error:
        logger.warning("%s", error)
    with transaction.atomic():
        run = GcRun.objects.create(
            host=host,
            dry_run=dry_run,
            removed=removed,
            bytes_reclaimed=bytes_reclaimed,
            error=error,
            created_at=started,
        )
        audit_record(
            actor=actor,
            tenant=None,
            action="host.gc_dry_run" if dry_run else "host.gc",
            target=host,
            diff={
                "gc_run": run.pk,
                "containers": len(removed.get("containers", [])),
                "images": len(removed.get("images", [])),
                "bytes_reclaimed": bytes_reclaimed,
                **({"error": error} if error else {}),
            },
        )
    return run


def gc_run_all(*, dry_run: bool, actor=None) -> list[GcRun]:
    """Collect the garbage of every registered host, one after the other."""
    policy = gc_policy()
    return [gc_run(host=host, dry_run=dry_run, actor=actor, policy=policy) for host in DockerHost.objects.all()]
