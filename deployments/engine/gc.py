"""What garbage collection asks of one engine: an inventory of containers, images and layer sizes, and removals.

The services layer decides what goes; this module only reads the engine and removes what it is told to. Removals
never force: an image a container started to use in the meantime, or a container that started again, makes the
engine refuse, and the refusal is reported instead of destroying something in use.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

import docker.errors

from deployments.engine import secret_files
from deployments.engine.client import EngineError, EngineSpec, client_for, fakeable, translated

GC_TIMEOUT = 120
# Classic-builder history lines of instructions that change only the image config (no layer).
_CONFIG_ONLY = re.compile(r"#\(nop\)\s+(?!COPY\b|ADD\b)")


@dataclass(frozen=True)
class EngineContainer:
    """A container on the engine, in any state; `finished_at` is known for exited and dead ones."""

    engine_id: str
    name: str
    image_id: str
    state: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    finished_at: datetime | None = None


@dataclass(frozen=True)
class EngineImage:
    """A top-level image (tagged, or dangling without children), with the size of each layer of its chain.

    `layers` holds (chain id, bytes) from the base layer up; two images share a layer when they share its chain id.
    """

    image_id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    size: int
    created: int
    layers: tuple[tuple[str, int], ...] = ()

    @property
    def dangling(self) -> bool:
        return not self.tags


@dataclass
class Inventory:
    containers: list[EngineContainer]
    images: list[EngineImage]


def _parse_time(value: str) -> datetime | None:
    """Parse dockerd's RFC 3339 timestamps (nanoseconds, Z); the zero time means never."""
    if not value or value.startswith("0001-"):
        return None
    head, _, rest = value.partition(".")
    zone = "+00:00"
    if rest:
        digits = re.match(r"\d*", rest).group(0)
        zone = rest[len(digits) :] or zone
        head = f"{head}.{digits[:6].ljust(6, '0')}"
    elif head.endswith("Z"):
        head = head[:-1]
    return datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone))


def _chain_ids(diff_ids: list[str]) -> list[str]:
    """Return the chain id of every layer, as the engine's layer store names them."""
    chain: list[str] = []
    for diff_id in diff_ids:
        if not chain:
            chain.append(diff_id)
        else:
            chain.append("sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain


def _layer_sizes(history: list[dict], layer_count: int) -> list[int]:
    """Map the engine's image history (newest first) onto the image's layers (oldest first).

    The history has one entry per build step with the size of the layer the step made, and 0 for steps that made
    none; a step may also make an empty layer. Entries with bytes are layers; zero-byte entries are layers when the
    count says so, or when they are not config-only instructions. An empty layer costs nothing, so only the
    position of the layers with bytes matters.
    """
    entries = list(reversed(history))
    sizes = [int(entry.get("Size") or 0) for entry in entries]
    config_only = [bool(_CONFIG_ONLY.search(entry.get("CreatedBy") or "")) for entry in entries]
    candidates = [
        [size > 0 for size in sizes],
        [size > 0 or not config for size, config in zip(sizes, config_only, strict=True)],
        [True] * len(entries),
    ]
    for flags in candidates:
        if sum(flags) == layer_count:
            return [size for size, flag in zip(sizes, flags, strict=True) if flag]
    # The history does not line up with the layers (a squashed or imported image): give the bytes in order.
    layered = [size for size in sizes if size > 0][:layer_count]
    return layered + [0] * (layer_count - len(layered))


def _image(api, row: dict) -> EngineImage:
    image_id = row["Id"]
    tags = tuple(tag for tag in row.get("RepoTags") or [] if tag != "<none>:<none>")
    digests = tuple(digest for digest in row.get("RepoDigests") or [] if not digest.startswith("<none>@"))
    layers: tuple[tuple[str, int], ...] = ()
    try:
        attrs = api.inspect_image(image_id)
        history = api.history(image_id)
    except docker.errors.NotFound:
        # Removed while we looked: nothing to collect, nothing that shares it.
        return EngineImage(image_id, tags, digests, int(row.get("Size") or 0), int(row.get("Created") or 0))
    diff_ids = (attrs.get("RootFS") or {}).get("Layers") or []
    layers = tuple(zip(_chain_ids(diff_ids), _layer_sizes(history, len(diff_ids)), strict=True))
    return EngineImage(
        image_id=image_id,
        tags=tags,
        digests=digests,
        size=int(attrs.get("Size") or row.get("Size") or 0),
        created=int(row.get("Created") or 0),
        layers=layers,
    )


@fakeable
def inventory(spec: EngineSpec, *, inspect_label: str) -> Inventory:
    """Return every container and every top-level image of the engine.

    Exited and dead containers carrying `inspect_label` are inspected for the time they finished.
    """
    with translated(spec.name, "Garbage collection inventory"):
        api = client_for(spec, timeout=GC_TIMEOUT).api
        containers = []
        for row in api.containers(all=True):
            state = row.get("State", "")
            labels = row.get("Labels") or {}
            finished_at = None
            if state in ("exited", "dead") and inspect_label in labels:
                try:
                    finished_at = _parse_time(api.inspect_container(row["Id"])["State"].get("FinishedAt", ""))
                except docker.errors.NotFound:
                    continue
            containers.append(
                EngineContainer(
                    engine_id=row["Id"],
                    name=(row.get("Names") or ["/"])[0].lstrip("/"),
                    image_id=row.get("ImageID", ""),
                    state=state,
                    labels=labels,
                    finished_at=finished_at,
                )
            )
        images = [_image(api, row) for row in api.images(all=False)]
    return Inventory(containers=containers, images=images)


@fakeable
def container_remove(spec: EngineSpec, *, engine_id: str) -> None:
    """Remove a stopped container; the engine refuses one that runs again. A missing one is already gone."""
    try:
        with translated(spec.name, f"Remove container {engine_id[:12]}"):
            api = client_for(spec, timeout=GC_TIMEOUT).api
            # An exited run's secret volumes outlive its holder (removed when it ended): they go with it.
            volumes = secret_files.volumes_of(api.inspect_container(engine_id))
            api.remove_container(engine_id, force=False)
            secret_files.release(api, container_id=engine_id, volumes=volumes)
    except EngineError as error:
        if not error.not_found:
            raise


@fakeable
def image_remove(spec: EngineSpec, *, image: EngineImage) -> None:
    """Remove every name of `image`, then the image itself; a missing image is already gone."""
    api = client_for(spec, timeout=GC_TIMEOUT).api
    for reference in (*image.tags, image.image_id):
        try:
            with translated(spec.name, f"Remove image {reference}"):
                api.remove_image(reference, force=False, noprune=False)
        except EngineError as error:
            if not error.not_found:
                raise


@fakeable
def build_cache_reclaimable(spec: EngineSpec) -> int | None:
    """Return the bytes of build cache a prune would free, or None when the engine keeps no build cache."""
    with translated(spec.name, "Disk usage"):
        usage = client_for(spec, timeout=GC_TIMEOUT).api.df()
    records = usage.get("BuildCache")
    if records is None:
        return 0 if "BuilderSize" in usage else None
    return sum(
        int(record.get("Size") or 0) for record in records if not record.get("InUse") and not record.get("Shared")
    )


@fakeable
def build_cache_prune(spec: EngineSpec) -> int | None:
    """Prune the engine's unused build cache and return the bytes freed, or None when the engine has no such API."""
    try:
        with translated(spec.name, "Prune build cache"):
            result = client_for(spec, timeout=GC_TIMEOUT).api.prune_builds()
    except EngineError as error:
        # An engine too old for the API says so with InvalidVersion, which is no reason to fail the run.
        if error.unreachable and not isinstance(error.__cause__, docker.errors.InvalidVersion):
            raise
        return None
    return int((result or {}).get("SpaceReclaimed") or 0)
