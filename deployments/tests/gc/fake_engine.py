"""An in-memory engine for garbage-collection unit tests: an inventory, and a record of what was removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from deployments.engine.client import EngineError
from deployments.engine.gc import EngineContainer, EngineImage, Inventory


def image(image_id: str, *tags: str, layers: tuple[tuple[str, int], ...] = (), created: int = 0) -> EngineImage:
    """An image named `image_id` (a sha256: prefix is added) with `tags` and (chain id, bytes) layers."""
    return EngineImage(
        image_id=f"sha256:{image_id}",
        tags=tags,
        digests=(),
        size=sum(size for _chain, size in layers),
        created=created,
        layers=layers,
    )


def container(
    engine_id: str, image_id: str, *, state: str = "exited", finished_at: datetime | None = None, **labels: str
) -> EngineContainer:
    """A container of image `image_id`; keyword labels use _ for dots: berth_app="web" is berth.app=web."""
    return EngineContainer(
        engine_id=engine_id,
        name=f"c-{engine_id}",
        image_id=f"sha256:{image_id}",
        state=state,
        labels={key.replace("_", "."): value for key, value in labels.items()},
        finished_at=finished_at,
    )


@dataclass
class FakeEngine:
    """Stands in for deployments.engine.gc: same functions, no dockerd."""

    containers: list[EngineContainer] = field(default_factory=list)
    images: list[EngineImage] = field(default_factory=list)
    cache_bytes: int | None = 0
    refuse: set[str] = field(default_factory=set)
    unreachable: bool = False
    removed_containers: list[str] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    pruned: int = 0

    def _check(self, spec) -> None:
        if self.unreachable:
            raise EngineError(f"engine {spec.name} did not answer (ConnectionError)", host=spec.name, unreachable=True)

    def inventory(self, spec, *, inspect_label: str) -> Inventory:
        self._check(spec)
        return Inventory(containers=list(self.containers), images=list(self.images))

    def container_remove(self, spec, *, engine_id: str) -> None:
        if engine_id in self.refuse:
            raise EngineError(f"Remove container {engine_id} failed on {spec.name}: it runs again", host=spec.name)
        self.removed_containers.append(engine_id)

    def image_remove(self, spec, *, image: EngineImage) -> None:
        if image.image_id in self.refuse:
            raise EngineError(f"Remove image {image.image_id} failed on {spec.name}: in use", host=spec.name)
        self.removed_images.append(image.image_id)

    def build_cache_reclaimable(self, spec) -> int | None:
        return self.cache_bytes

    def build_cache_prune(self, spec) -> int | None:
        self.pruned += 1
        return self.cache_bytes
