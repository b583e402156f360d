"""Builds without a Dockerfile: Heroku v2 buildpacks on a stack, compiled in two `docker build`s.

The first build runs in the stack's build image, with the network off unless BERTH_BUILDPACK_NETWORK allows it and
with every step run again (no layer cache: bin/compile always runs, it keeps what it wants in CACHE_DIR). It copies
the app to /app (BUILD_DIR is where the app will run, so the paths a compile writes stay true), the buildpacks to
/berth/buildpacks, the app's cache to /workspace/cache and its build-time config to /workspace/env, and runs
run-buildpack.sh (detect in order, compile, release). The cache and what bin/release said are copied out of that
image; then the second build puts the compiled /app onto the stack's run image, one layer, with the `config_vars`
bin/release named, and that image is tagged, pushed and released like any build. The first image is removed:
nothing of ENV_DIR or CACHE_DIR reaches the image that runs.

Only non-secret config vars reach ENV_DIR, and only those the app names in its config var BUILD_ENV (comma-
separated) plus BUILDPACK_URL: a secret never enters a build.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings

from deployments.engine import images
from deployments.engine.client import EngineError, EngineSpec
from deployments.models import Build, ConfigVar, Stack
from deployments.services import buildcache as build_cache
from deployments.services.builds import git
from deployments.services.builds.archive import PROCESS_TYPE_NAME

BUILDPACKS_DIR = Path(settings.BASE_DIR) / "buildpacks"
SHIPPED_ORDER = ("python", "static", "procfile")
DRIVER = Path(__file__).resolve().parent / "run-buildpack.sh"
CLONE_KEEP_SECONDS = 3600
# The variables bin/release may set in the image (its `config_vars`): plain environment names.
CONFIG_KEY_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
_FAILURE_PREFIX = " !     "
_META_MAX_BYTES = 1024 * 1024


class BuildpackFailed(Exception):
    """The buildpack build cannot go on; the message is the reason."""


@dataclass
class Compiled:
    buildpack: str = ""
    stack: str = ""
    process_types: dict[str, str] = field(default_factory=dict)
    cache_note: str = ""


def default_stack() -> Stack:
    stack = Stack.objects.filter(is_default=True).first()
    if stack is None:
        raise BuildpackFailed(
            "this app has no Dockerfile and no stack is registered to build it with buildpacks "
            "(staff register one: manage.py addstack)"
        )
    return stack


def shipped_buildpacks() -> list[str]:
    return [name for name in SHIPPED_ORDER if (BUILDPACKS_DIR / name / "bin" / "detect").is_file()]


def build_env(build: Build) -> dict[str, str]:
    """The config vars the build may see: non-secret, named in BUILD_ENV, and BUILDPACK_URL."""
    plain = dict(ConfigVar.objects.filter(app=build.app, secret=False).values_list("key", "value"))
    wanted = {key.strip() for key in plain.get("BUILD_ENV", "").split(",") if key.strip()} | {"BUILDPACK_URL"}
    return {key: value for key, value in plain.items() if key in wanted}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_tree(tar: tarfile.TarFile, root: Path, prefix: str) -> None:
    for path in sorted(root.rglob("*")):
        tar.add(path, arcname=f"{prefix}/{path.relative_to(root)}", recursive=False)


def _compile_context(
    *,
    context: Path,
    dest: Path,
    stack: Stack,
    packs: dict[str, Path],
    order: list[str],
    env: dict[str, str],
    cache: Path | None,
    network: str,
) -> None:
    """Write the context of the compile build: the app under app/, the buildpacks, the cache, ENV_DIR, a Dockerfile."""
    dockerfile = "\n".join(
        [
            f"FROM {stack.build_image}",
            "COPY berth /berth",
            "COPY app /app",
            "COPY cache /workspace/cache",
            "COPY env /workspace/env",
            'RUN ["/bin/sh", "/berth/run-buildpack.sh", '
            + ", ".join(f'"{name}"' for name in [f"--network={network}", *order])
            + "]",
            "",
        ]
    )
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as out:
        _add_bytes(out, "Dockerfile", dockerfile.encode())
        _add_bytes(out, "berth/run-buildpack.sh", DRIVER.read_bytes(), 0o755)
        for name, folder in packs.items():
            _add_tree(out, folder, f"berth/buildpacks/{name}")
        for directory in ("app", "cache", "env"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            out.addfile(info)
        with tarfile.open(context) as app:
            for member in app:
                data = app.extractfile(member) if member.isfile() else None
                member.name = f"app/{member.name}"
                out.addfile(member, data)
        if cache is not None:
            with tarfile.open(cache) as kept:
                for member in kept:
                    data = kept.extractfile(member) if member.isfile() else None
                    # the archive endpoint names the folder itself ("cache/..."): keep that root
                    out.addfile(member, data)
        for key, value in env.items():
            _add_bytes(out, f"env/{key}", value.encode())


def _reason(lines: list[str], error: EngineError) -> str:
    failures = [line[len(_FAILURE_PREFIX) :].strip() for line in lines if line.startswith(_FAILURE_PREFIX)]
    return failures[-1] if failures else error.message


def _run_dockerfile(run_image: str, compiled: str, config_vars: dict[str, str]) -> str:
    """The run image plus the compiled /app (one layer) and the environment bin/release asked for."""
    lines = [f"FROM {run_image}", f"COPY --from={compiled} /app /app", "WORKDIR /app"]
    if config_vars:
        lines.append("ENV " + " ".join(f"{key}={json.dumps(value)}" for key, value in config_vars.items()))
    return "\n".join(lines) + "\n"


def _read_meta(spec: EngineSpec, image: str, workdir: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    path = workdir / "meta.tar"
    if not images.copy_out(spec, image=image, path="/workspace/meta", dest=path, max_bytes=_META_MAX_BYTES):
        raise BuildpackFailed("bin/release said more than 1 MB")
    buildpack, release = "", ""
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.name == "meta/buildpack":
                buildpack = tar.extractfile(member).read().decode(errors="replace").strip()
            if member.isfile() and member.name == "meta/release.yml":
                release = tar.extractfile(member).read().decode(errors="replace")
    try:
        parsed = yaml.safe_load(release) if release.strip() else {}
    except yaml.YAMLError as error:
        raise BuildpackFailed(f"bin/release printed no valid YAML ({error.__class__.__name__})") from None
    types = (parsed or {}).get("default_process_types") if isinstance(parsed, dict) else None
    processes = {
        str(name): str(command)
        for name, command in (types or {}).items()
        if PROCESS_TYPE_NAME.match(str(name)) and command
    }
    variables = parsed.get("config_vars") if isinstance(parsed, dict) else None
    config_vars = {
        str(key): str(value)
        for key, value in (variables if isinstance(variables, dict) else {}).items()
        if CONFIG_KEY_PATTERN.match(str(key))
    }
    return buildpack, processes, config_vars


def _docker_build(spec: EngineSpec, context: Path, tag: str, on_line, stop: threading.Event, **options) -> None:
    """Build `context` (its Dockerfile at the root) with the limits of every build."""
    images.build(
        spec,
        context=context,
        dockerfile="Dockerfile",
        tag=tag,
        buildargs={},
        memory_mb=settings.BERTH_BUILD_MEMORY_MB,
        timeout=settings.BERTH_BUILD_TIMEOUT,
        on_line=on_line,
        stop=stop,
        **options,
    )


def buildpack_build(
    *,
    build: Build,
    spec: EngineSpec,
    context: Path,
    procfile: dict[str, str],
    reference: str,
    workdir: Path,
    log,
    stop: threading.Event,
) -> Compiled:
    """Compile the sanitized `context` with buildpacks and build `reference` on the stack's run image."""
    stack = default_stack()
    env = build_env(build)
    requested = env.get("BUILDPACK_URL", "").strip()
    packs, order = _buildpacks(requested, workdir, log)
    log(
        f"Buildpacks on stack {stack.name}: {', '.join(order)}"
        + ("" if settings.BERTH_BUILDPACK_NETWORK else " (network off)")
    )
    for image in dict.fromkeys((stack.build_image, stack.run_image)):
        if not images.exists(spec, image):
            log(f"Pulling {image}")
            images.pull(spec, reference=image, on_line=log)
    cache = build_cache.cache_path(app=build.app)
    compile_context = workdir / "compile.tar"
    _compile_context(
        context=context, dest=compile_context, stack=stack, packs=packs, order=order, env=env,
        cache=cache if cache.is_file() else None, network="on" if settings.BERTH_BUILDPACK_NETWORK else "off",
    )  # fmt: skip
    compiled_tag = f"{reference}-compile"
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        log(line)

    try:
        try:
            network = "" if settings.BERTH_BUILDPACK_NETWORK else "none"
            _docker_build(spec, compile_context, compiled_tag, on_line, stop, nocache=True, network=network)
        except images.BuildStopped:
            raise
        except images.BuildError as error:
            raise BuildpackFailed(_reason(lines, error)) from None
        buildpack, released, config_vars = _read_meta(spec, compiled_tag, workdir)
        processes = {**released, **procfile}
        if not processes:
            raise BuildpackFailed(f"the buildpack {buildpack} named no process type and the app has no Procfile")
        note = build_cache.cache_store(app=build.app, spec=spec, image=compiled_tag, workdir=workdir)
        if note:
            log(note)
        final = workdir / "run.tar"
        with tarfile.open(final, mode="w") as out:
            _add_bytes(
                out,
                "Dockerfile",
                _run_dockerfile(stack.run_image, compiled_tag, config_vars).encode(),
            )
        _docker_build(spec, final, reference, log, stop)
    finally:
        try:
            images.remove(spec, compiled_tag)
        except EngineError as error:
            log(f"Warning: the compile image could not be removed: {error.message}")
    return Compiled(buildpack=buildpack or requested, stack=stack.name, process_types=processes)


def _buildpacks(requested: str, workdir: Path, log) -> tuple[dict[str, Path], list[str]]:
    """The buildpack folders to copy in, by name, and the order to try them in."""
    if not requested:
        names = shipped_buildpacks()
        return {name: BUILDPACKS_DIR / name for name in names}, names
    if requested in shipped_buildpacks():
        return {requested: BUILDPACKS_DIR / requested}, [requested]
    if "://" in requested:
        return {"custom": _cloned(requested, log)}, ["custom"]
    raise BuildpackFailed(
        f"BUILDPACK_URL {requested!r} is neither a shipped buildpack ({', '.join(shipped_buildpacks())}) nor a git URL"
    )


def _cloned(requested: str, log) -> Path:
    """The buildpack at `url#ref` (ref: default HEAD), cloned with the git time limit and kept for an hour."""
    url, _, ref = requested.partition("#")
    ref = ref or "HEAD"
    folder = Path(settings.DATA_DIR) / "buildpacks" / hashlib.sha256(requested.encode()).hexdigest()[:24]
    if folder.is_dir() and time.time() - folder.stat().st_mtime < CLONE_KEEP_SECONDS:
        log(f"Buildpack {git.redact(url)} at {ref} (cloned before)")
        return folder
    fresh = folder.with_name(f"{folder.name}.{os.getpid()}.{threading.get_ident()}")
    shutil.rmtree(fresh, ignore_errors=True)
    log(f"Cloning the buildpack {git.redact(url)} at {ref}")
    try:
        commit = git.clone(url, ref, fresh, timeout=settings.BERTH_BUILD_GIT_TIMEOUT)
    except git.GitError as error:
        shutil.rmtree(fresh, ignore_errors=True)
        raise BuildpackFailed(f"the buildpack {git.redact(url)} could not be cloned: {error}") from None
    shutil.rmtree(fresh / ".git", ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    fresh.rename(folder)
    log(f"Buildpack at {commit}")
    return folder
