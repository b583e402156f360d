"""Builds: a customer's source (archive, git repository or image) in, a pushed image and a release out.

`build_create` validates the request (builds/input.py), stores the upload under BERTH_DATA_DIR/builds/ (kept for the
app's last BERTH_BUILD_KEEP_ARCHIVES builds, see builds/retention.py) and enqueues the build on commit. `build_execute`
runs it (the "builds" task queue calls it; tests call it directly): it turns the source into a sanitized build
context, builds on a builder host through the engine adapter, tags the image <registry>/<tenant>/<app>:<number>,
pushes it, records digest, size and layers, and creates a release. A build can be cancelled (builds/cancel.py) while it
waits or runs.

Secrets never enter an image: no config var is ever passed to the engine, as build argument, label or file. The
only build arguments are the ones the caller sends, each declared by an ARG of the Dockerfile, and a build argument
that names or carries a secret config var is refused.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from deployments.engine import images
from deployments.engine.client import LOCAL_ENGINE, EngineError, EngineSpec
from deployments.engine.labels import PROCESS_TYPE_LABEL_PREFIX
from deployments.models import App, Build, BuildStatus, DockerHost, HostStatus, SourceKind
from deployments.selectors.hosts import host_spec
from deployments.services.builds import archive, buildpacks, git
from deployments.services.builds.cancel import CancelWatch, build_cancelled, canceller_name
from deployments.services.builds.input import check_build_args, check_image_ref, own_image
from deployments.services.builds.log import BuildLog
from deployments.services.builds.retention import archives_dir, build_archives_prune
from deployments.services.images import image_repository
from deployments.services.queue import task_enqueue
from deployments.services.releases import release_deploy_build
from deployments.services.webhooks import webhook_build_event
from portal.errors import ApplicationError, Invalid
from tenants.audit import audit_record

logger = logging.getLogger(__name__)

# How long a build may wait behind the running build of the same app before trying again.
REQUEUE_SECONDS = 5


class BuildFailed(Exception):
    """The build cannot go on; the message is the readable reason written to its log."""


# ---------------------------------------------------------------------------------------------------------------
# Creating a build


def _max_context_bytes() -> int:
    return settings.BERTH_BUILD_MAX_CONTEXT_MB * 1024 * 1024


def _next_number(app: App) -> int:
    App.objects.select_for_update().filter(pk=app.pk).first()
    return (Build.objects.filter(app=app).aggregate(number=Max("number"))["number"] or 0) + 1


def _store_upload(upload: UploadedFile, dest: Path, limit: int) -> bool:
    """Copy the upload to `dest`; return False (and keep nothing) when it is larger than `limit` bytes."""
    if upload.size is not None and upload.size > limit:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with dest.open("wb") as out:
        for chunk in upload.chunks():
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    if written > limit:
        dest.unlink(missing_ok=True)
        return False
    return True


@transaction.atomic
def build_create(
    *,
    app: App,
    actor,
    archive_file: UploadedFile | None = None,
    dockerfile: str = "",
    git_url: str = "",
    git_ref: str = "",
    image: str = "",
    build_args: dict | None = None,
    pushed: dict | None = None,
) -> Build:
    """Record a build of `app` from exactly one source and enqueue it; return the pending (or failed) build.

    An archive larger than BERTH_BUILD_MAX_CONTEXT_MB is not stored: the build is created failed with the reason.
    `pushed` ({"commit", "ref"}) marks an archive made from a `git push` (services/builds/push.py).
    """
    given = [kind for kind, present in (("source", archive_file), ("git", git_url), ("image", image)) if present]
    if len(given) != 1:
        raise Invalid(
            "Send exactly one source: a tar or tar.gz archive in `source`, `git` {url, ref}, or `image`.",
            fields={"source": ["Exactly one of source, git, image."]},
        )
    args = check_build_args(app=app, build_args=build_args or {})
    if image:
        check_image_ref(app=app, image=image)
    if git_url:
        try:
            git.validate(git_url, git_ref)
        except git.GitError as error:
            raise Invalid(str(error), fields={"git": [str(error)]}) from None
    if dockerfile:
        try:
            archive.normalise_path(dockerfile)
        except archive.UnsafeArchive as error:
            raise Invalid(str(error), fields={"dockerfile": [str(error)]}) from None

    number = _next_number(app)
    build = Build(app=app, number=number, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    reason = ""
    if archive_file is not None:
        build.source_kind = SourceKind.TARBALL
        path = archives_dir() / app.tenant.slug / app.slug / f"{number}.tar"
        if _store_upload(archive_file, path, _max_context_bytes()):
            build.source = {"archive": str(path), "dockerfile": dockerfile or "Dockerfile", "build_args": args}
        else:
            reason = f"the archive is larger than the {settings.BERTH_BUILD_MAX_CONTEXT_MB} MB a build context may be"
            build.source = {"archive": "", "dockerfile": dockerfile or "Dockerfile", "build_args": args}
        if pushed:
            build.source["push"] = pushed
    elif git_url:
        build.source_kind = SourceKind.GIT
        build.source = {
            "git": {"url": git_url, "ref": git_ref},
            "dockerfile": dockerfile or "Dockerfile",
            "build_args": args,
        }
    else:
        build.source_kind = SourceKind.IMAGE
        build.source = {"image": image}
    if reason:
        build.status = BuildStatus.FAILED
        build.error = reason
        build.log = f"Build failed: {reason}\n"
        build.finished_at = timezone.now()
    build.full_clean()
    build.save()
    audit_record(
        actor=actor,
        tenant=app.tenant,
        action="build.create",
        target=build,
        diff={"number": number, "source_kind": build.source_kind, "build_args": sorted(args)},
    )
    if not reason:
        build_id = build.pk
        transaction.on_commit(lambda: build_enqueue(build_id=build_id))
    return build


def build_enqueue(*, build_id: int, delay: int = 0) -> None:
    """Queue the build on the "builds" task queue."""
    task_enqueue("build_run", build_id, delay=delay)


# ---------------------------------------------------------------------------------------------------------------
# Running a build


def builder_spec() -> EngineSpec:
    """Return the engine builds run on: a ready builder host, else any ready host, else the local engine."""
    hosts = (
        DockerHost.objects.standalone()
        .filter(status=HostStatus.READY)
        .order_by("-is_builder", "running_containers", "name")
    )
    host = hosts.first()
    if host is None:
        if DockerHost.objects.exists():
            raise BuildFailed("no Docker host is ready to build on")
        # Before any host is registered, the engine of this machine builds (embedded mode).
        return LOCAL_ENGINE
    return host_spec(host)


@dataclass
class _Result:
    image: str = ""
    digest: str = ""
    size_bytes: int = 0
    layers: int = 0
    process_types: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    buildpack: str = ""
    stack: str = ""


def _claim(build_id: int) -> tuple[Build | None, bool]:
    """Move a pending build to running; return (build, waiting) where waiting means another build of the app runs."""
    stale_before = timezone.now() - timedelta(seconds=settings.BERTH_BUILD_TIMEOUT + 300)
    with transaction.atomic():
        build = Build.objects.select_for_update().select_related("app__tenant").filter(pk=build_id).first()
        if build is None or build.status != BuildStatus.PENDING:
            return None, False
        App.objects.select_for_update().filter(pk=build.app_id).first()
        running = Build.objects.filter(app_id=build.app_id, status=BuildStatus.RUNNING).exclude(pk=build.pk)
        # A build whose worker died would block the app forever: past its time limit, it is over.
        for dead in running.filter(started_at__lt=stale_before):
            dead.status = BuildStatus.FAILED
            dead.error = "the worker stopped during the build"
            dead.finished_at = timezone.now()
            dead.save(update_fields=["status", "error", "finished_at"])
        if running.filter(started_at__gte=stale_before).exists():
            return build, True
        build.status = BuildStatus.RUNNING
        build.started_at = timezone.now()
        build.save(update_fields=["status", "started_at"])
    return build, False


def build_execute(*, build_id: int) -> Build | None:
    """Run a pending build to its end (synchronously) and return it; None when it is gone or not pending.

    When another build of the same app is running, the build stays pending and is enqueued again: one build per
    app at a time, in order. A build cancelled while it runs is stopped on the engine (see builds/cancel.py).
    """
    build, waiting = _claim(build_id)
    if build is None:
        return None
    if waiting:
        transaction.on_commit(lambda: build_enqueue(build_id=build_id, delay=REQUEUE_SECONDS))
        return build
    log = BuildLog(build)
    log.status(BuildStatus.RUNNING)
    workdir = Path(tempfile.mkdtemp(prefix=f"berth-build-{build.pk}-"))
    watch = CancelWatch(build.pk)
    spec: EngineSpec | None = None
    try:
        spec = builder_spec()
        log(f"Build {build.number} of {build.app} on {spec.name}")
        result = _run(build=build, spec=spec, workdir=workdir, log=log, stop=watch.event)
        for warning in result.warnings:
            log(f"Warning: {warning}")
        log(f"Built {result.image} ({result.digest}, {result.size_bytes} bytes, {result.layers} layers)")
        log.flush()
        release_error = _finish_succeeded(build, result)
    except Exception as error:
        watch.close()
        cancelled = isinstance(error, _Cancelled | images.BuildStopped) or build_cancelled(build.pk)
        # A cancellation may also land between that check and the failure being recorded: _fail then says so.
        if cancelled or (not _fail(build, error, log) and build_cancelled(build.pk)):
            _finish_cancelled(build, spec, log)
    else:
        watch.close()
        if release_error:
            log(f"No release created: {release_error}")
            log.flush()
        log.status(BuildStatus.SUCCEEDED)
    finally:
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    _prune_archives(build)
    build.refresh_from_db()
    return build


class _Cancelled(Exception):
    """The build was cancelled between two of its steps."""


def _check_cancelled(build: Build, stop: threading.Event) -> None:
    if stop.is_set() or build_cancelled(build.pk):
        raise _Cancelled


def _fail(build: Build, error: Exception, log: BuildLog) -> bool:
    """Record the build as failed; return False when it was no longer running (cancelled meanwhile)."""
    if isinstance(error, BuildFailed | EngineError):
        reason = error.message if isinstance(error, EngineError) else str(error)
        log(f"Build failed: {reason}")
    else:
        logger.error("build %s crashed", build.pk, exc_info=error)
        reason = f"internal error ({error.__class__.__name__})"
        log(f"Build failed: {reason}")  # the traceback goes to the server log
    log.flush()
    # Only a running build fails: a cancellation that landed meanwhile stays what the user asked for.
    if not Build.objects.filter(pk=build.pk, status=BuildStatus.RUNNING).update(
        status=BuildStatus.FAILED, error=reason, finished_at=timezone.now()
    ):
        return False
    audit_record(
        actor=build.created_by, tenant=build.app.tenant, action="build.fail", target=build, diff={"error": reason}
    )
    webhook_build_event(build=build, status=BuildStatus.FAILED, error=reason)
    log.status(BuildStatus.FAILED, error=reason)
    return True


def _finish_cancelled(build: Build, spec: EngineSpec | None, log: BuildLog) -> None:
    """Remove what the stopped build tagged, say who cancelled it, and let the next pending build of the app start."""
    build.refresh_from_db(fields=["cancelled_by", "error"])
    if spec is not None:
        try:
            images.remove(spec, f"{_repository(build)}:{build.number}")
        except EngineError as error:
            log(f"Warning: the image of the cancelled build could not be removed: {error.message}")
    where = f" and stopped on {spec.name}" if spec is not None else ""
    log(f"Build cancelled by {canceller_name(build)}{where}: no image kept, no release created.")
    log.flush()
    Build.objects.filter(pk=build.pk).update(finished_at=timezone.now())
    log.status(BuildStatus.CANCELLED, error=build.error)
    following = Build.objects.filter(app_id=build.app_id, status=BuildStatus.PENDING).order_by("number").first()
    if following is not None:
        transaction.on_commit(lambda: build_enqueue(build_id=following.pk))


def _prune_archives(build: Build) -> None:
    try:
        build_archives_prune(app=build.app)
    except Exception:  # retention must never fail a build; the periodic collection catches up
        logger.warning("could not prune the source archives of %s", build.app, exc_info=True)


def _finish_succeeded(build: Build, result: _Result) -> str:
    """Record the image and create the release; return why no release was created, or ''.

    Raise _Cancelled when the build was cancelled meanwhile: it gets no image and no release.
    """
    with transaction.atomic():
        updated = Build.objects.filter(pk=build.pk, status=BuildStatus.RUNNING).update(
            status=BuildStatus.SUCCEEDED,
            image=result.image,
            digest=result.digest,
            size_bytes=result.size_bytes,
            layers=result.layers,
            process_types=result.process_types,
            warnings=result.warnings,
            buildpack=result.buildpack,
            stack=result.stack,
            finished_at=timezone.now(),
        )
        if not updated:
            raise _Cancelled
        build.refresh_from_db()
        audit_record(
            actor=build.created_by,
            tenant=build.app.tenant,
            action="build.succeed",
            target=build,
            diff={"image": result.image, "digest": result.digest},
        )
        webhook_build_event(build=build, status=BuildStatus.SUCCEEDED)
        try:
            with transaction.atomic():
                release_deploy_build(build=build, actor=build.created_by)
        except ApplicationError as error:
            return error.message
        except ValidationError as error:
            return "; ".join(error.messages)
    return ""


def _repository(build: Build) -> str:
    return image_repository(tenant_slug=build.app.tenant.slug, app_slug=build.app.slug)


def _context_for(build: Build, workdir: Path, log) -> tuple[Path, archive.ContextSummary]:
    """Turn the build's archive or git repository into a sanitized plain tar; return it and its summary."""
    raw: Path
    if build.source_kind == SourceKind.GIT:
        url, ref = build.source["git"]["url"], build.source["git"]["ref"]
        log(f"Cloning {git.redact(url)} at {ref}")
        try:
            commit = git.clone(url, ref, workdir / "checkout", timeout=settings.BERTH_BUILD_GIT_TIMEOUT)
        except git.GitError as error:
            raise BuildFailed(f"git clone failed: {error}") from None
        log(f"Checked out {commit}")
        raw = workdir / "checkout.tar"
        archive.pack_directory(workdir / "checkout", raw)
    else:
        raw = Path(build.source.get("archive") or "")
        if not raw.is_file():
            raise BuildFailed("the uploaded archive is missing")
        if pushed := build.source.get("push"):
            log(f"Pushed commit {pushed['commit']} to {pushed['ref'].removeprefix('refs/heads/')}")
    context = workdir / "context.tar"
    try:
        dockerfile = build.source.get("dockerfile") or "Dockerfile"
        # Without a Dockerfile at the default path, buildpacks build the app; a path the user named must exist.
        summary = archive.sanitize(
            raw,
            context,
            dockerfile=dockerfile,
            max_bytes=_max_context_bytes(),
            require_dockerfile=dockerfile != "Dockerfile",
        )
    except archive.UnsafeArchive as error:
        raise BuildFailed(f"unsafe or invalid source: {error}") from None
    log(f"Context: {summary.members} entries, {summary.size_bytes} bytes")
    return context, summary


def _build_source(
    *, build: Build, spec: EngineSpec, reference: str, workdir: Path, log, stop: threading.Event
) -> tuple[dict[str, str], buildpacks.Compiled | None]:
    """Build an archive or git source with its Dockerfile, or with buildpacks when it has none; return its processes."""
    context, summary = _context_for(build, workdir, log)
    build_args = dict(build.source.get("build_args") or {})
    _check_cancelled(build, stop)
    if not summary.dockerfile_text:
        if build_args:
            raise BuildFailed("build arguments need a Dockerfile; this app is built by buildpacks")
        try:
            compiled = buildpacks.buildpack_build(
                build=build, spec=spec, context=context, procfile=summary.procfile, reference=reference,
                workdir=workdir, log=log, stop=stop,
            )  # fmt: skip
        except buildpacks.BuildpackFailed as error:
            raise BuildFailed(str(error)) from None
        return compiled.process_types, compiled
    undeclared = sorted(set(build_args) - archive.declared_build_args(summary.dockerfile_text))
    if undeclared:
        raise BuildFailed(f"build arguments not declared by an ARG of the Dockerfile: {', '.join(undeclared)}")
    images.build(
        spec,
        context=context,
        dockerfile=summary.dockerfile,
        tag=reference,
        buildargs=build_args,
        memory_mb=settings.BERTH_BUILD_MEMORY_MB,
        timeout=settings.BERTH_BUILD_TIMEOUT,
        on_line=log,
        stop=stop,
    )
    return summary.procfile, None


def _run(*, build: Build, spec: EngineSpec, workdir: Path, log, stop: threading.Event) -> _Result:
    repository, tag = _repository(build), str(build.number)
    reference = f"{repository}:{tag}"
    procfile: dict[str, str] = {}
    compiled = None
    if build.source_kind == SourceKind.IMAGE:
        source_ref = build.source["image"]
        # Anything but the tenant's own image is pulled, never taken from the builder's cache: the registry decides
        # who may read it, and another tenant's image that happens to be on the builder stays out of reach.
        if not (own_image(app=build.app, image=source_ref) and images.exists(spec, source_ref)):
            log(f"Pulling {source_ref}")
            images.pull(spec, reference=source_ref, on_line=log)
        _check_cancelled(build, stop)
        images.tag(spec, image=source_ref, repository=repository, tag=tag)
    else:
        procfile, compiled = _build_source(
            build=build, spec=spec, reference=reference, workdir=workdir, log=log, stop=stop
        )
    # Past this point the image is tagged: a cancellation still wins, and the tag is removed before any push.
    _check_cancelled(build, stop)
    result = _Result(image=reference)
    if compiled is not None:
        result.buildpack, result.stack = compiled.buildpack, compiled.stack
    if settings.BERTH_REGISTRY:
        log(f"Pushing {reference}")
        result.digest = images.push(spec, repository=repository, tag=tag)
    info = images.inspect(spec, reference)
    if not settings.BERTH_REGISTRY:
        result.digest = info["Id"]
        result.warnings.append("no registry is configured (BERTH_REGISTRY): the image exists on the builder only")
    result.size_bytes = int(info.get("Size") or 0)
    result.layers = len((info.get("RootFS") or {}).get("Layers") or [])
    labels = (info.get("Config") or {}).get("Labels") or {}
    result.process_types = {
        key.removeprefix(PROCESS_TYPE_LABEL_PREFIX): value
        for key, value in labels.items()
        if key.startswith(PROCESS_TYPE_LABEL_PREFIX)
        and archive.PROCESS_TYPE_NAME.match(key.removeprefix(PROCESS_TYPE_LABEL_PREFIX))
    }
    result.process_types.update(procfile)
    size_mb = result.size_bytes / (1024 * 1024)
    if size_mb > settings.BERTH_BUILD_WARN_IMAGE_MB:
        result.warnings.append(
            f"the image is {size_mb:.0f} MB, over the {settings.BERTH_BUILD_WARN_IMAGE_MB} MB threshold"
        )
    if result.layers > settings.BERTH_BUILD_WARN_LAYERS:
        result.warnings.append(
            f"the image has {result.layers} layers, over the threshold of {settings.BERTH_BUILD_WARN_LAYERS}"
        )
    return result
