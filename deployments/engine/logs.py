"""What the log collector needs from an engine: Berth's containers, their start events and their log streams.

The streams are the engine's own bytes (each line prefixed with its RFC 3339 timestamp); splitting and stamping
them is deployments.logs' job.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from deployments.engine.client import EngineSpec, client_for, translated

LABEL_APP = "berth.app"
# A followed log stream stays open as long as the container runs: no read timeout on it.
STREAM_TIMEOUT = None


@dataclass(frozen=True)
class BerthContainer:
    """A container Berth started, as its labels describe it."""

    id: str
    name: str
    running: bool
    labels: dict = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return self.labels.get("berth.tenant", "")

    @property
    def app(self) -> str:
        return self.labels.get("berth.app", "")

    @property
    def release(self) -> int | None:
        value = self.labels.get("berth.release", "")
        return int(value) if value.isdigit() else None

    @property
    def process(self) -> str:
        return self.labels.get("berth.process", "")

    @property
    def index(self) -> str:
        return self.labels.get("berth.index", "")


class Closable(Iterator):
    """An engine stream the collector can close from another thread to stop reading it."""

    def __init__(self, iterator, closer):
        self._iterator = iter(iterator)
        self._closer = closer

    def __next__(self):
        return next(self._iterator)

    def close(self) -> None:
        # Closing a stream that already broke is not an error.
        with contextlib.suppress(Exception):
            self._closer()


def berth_containers(spec: EngineSpec) -> list[BerthContainer]:
    """Return every container of this engine that carries the berth.app label, running or not."""
    with translated(spec.name, "List Berth containers"):
        client = client_for(spec)
        found = client.api.containers(all=True, filters={"label": [LABEL_APP]})
    return [
        BerthContainer(
            id=item["Id"],
            name=(item.get("Names") or [""])[0].lstrip("/"),
            running=item.get("State") == "running",
            labels=item.get("Labels") or {},
        )
        for item in found
    ]


def berth_container(spec: EngineSpec, container_id: str) -> BerthContainer:
    """Return one container by id (raises EngineError with not_found when it is gone)."""
    with translated(spec.name, "Inspect container"):
        data = client_for(spec).api.inspect_container(container_id)
    return BerthContainer(
        id=data["Id"],
        name=data.get("Name", "").lstrip("/"),
        running=bool(data.get("State", {}).get("Running")),
        labels=data.get("Config", {}).get("Labels") or {},
    )


def container_events(spec: EngineSpec, *, since: int | None = None) -> Closable:
    """Follow the engine's start events of Berth containers; yields {"id": ..., "action": ...}."""
    with translated(spec.name, "Follow events"):
        client = client_for(spec, timeout=STREAM_TIMEOUT)
        stream = client.api.events(
            since=since,
            decode=True,
            filters={"type": ["container"], "event": ["start"], "label": [LABEL_APP]},
        )

    def events():
        with translated(spec.name, "Follow events"):
            for event in stream:
                yield {"id": event.get("id") or event.get("Actor", {}).get("ID", ""), "action": event.get("Action")}

    return Closable(events(), stream.close)


def log_stream(spec: EngineSpec, container_id: str, *, stream: str, since: int = 0, follow: bool = True) -> Closable:
    """Return the raw bytes of one stream ("stdout" or "stderr") of a container, each line timestamped.

    `since` is in whole seconds: the engine returns every line at or after it, the caller skips what it stored.
    """
    with translated(spec.name, "Follow logs"):
        client = client_for(spec, timeout=STREAM_TIMEOUT)
        chunks = client.api.logs(
            container_id,
            stdout=stream == "stdout",
            stderr=stream == "stderr",
            stream=True,
            follow=follow,
            timestamps=True,
            since=since or None,
        )

    def read():
        with translated(spec.name, "Follow logs"):
            yield from chunks

    return Closable(read(), chunks.close)
