"""What the metrics sampler needs from an engine: a stats stream per container, the events, and the host's size.

The engine pushes one stats document per container and second on a single streaming connection. `StatsStream`
keeps only the newest complete document as bytes; decoding it is left to the reader of `latest()`, so a sampler
recording every 10 s decodes one document in ten. `reading()` turns a document into the figures Berth stores.
"""

import contextlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime

from deployments.engine.client import EngineSpec, client_for, translated
from deployments.engine.labels import APP_LABEL
from deployments.engine.logs import Closable

# A stats stream stays open as long as the container runs: no read timeout on it.
STREAM_TIMEOUT = None
EVENT_ACTIONS = ("start", "die", "oom")


@dataclass(frozen=True)
class Reading:
    """The cumulative counters and the gauges of one stats document."""

    at_ns: int
    cpu_ns: int
    memory_bytes: int
    memory_limit_bytes: int
    rx_bytes: int
    tx_bytes: int
    read_bytes: int
    write_bytes: int
    pids: int


def _timestamp_ns(text: str) -> int:
    # RFC 3339 with nanoseconds ("2026-12-02T01:50:00.123456789Z"): datetime keeps microseconds only.
    head, _, rest = text.partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())[:9].ljust(9, "0")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return int(seconds) * 1_000_000_000 + int(digits)


def reading(document: dict) -> Reading | None:
    """Return the figures of one stats document, or None for the empty one the engine sends for a stopped container."""
    cpu = document.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
    read = document.get("read", "")
    if not cpu or not read or read.startswith("0001-"):
        return None
    memory = document.get("memory_stats", {})
    stats = memory.get("stats", {})
    # As `docker stats` shows it: the page cache the kernel may drop at any time is not used memory.
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    networks = (document.get("networks") or {}).values()
    blkio = (document.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return Reading(
        at_ns=_timestamp_ns(read),
        cpu_ns=int(cpu),
        memory_bytes=max(0, int(memory.get("usage", 0)) - int(cache)),
        memory_limit_bytes=int(memory.get("limit", 0)),
        rx_bytes=sum(int(net.get("rx_bytes", 0)) for net in networks),
        tx_bytes=sum(int(net.get("tx_bytes", 0)) for net in networks),
        read_bytes=sum(int(row.get("value", 0)) for row in blkio if row.get("op", "").lower() == "read"),
        write_bytes=sum(int(row.get("value", 0)) for row in blkio if row.get("op", "").lower() == "write"),
        pids=int((document.get("pids_stats") or {}).get("current", 0)),
    )


class StatsStream:
    """One container's stats stream, read by `run()` in its own thread; `latest()` gives the newest document."""

    def __init__(self, spec: EngineSpec, container_id: str):
        self.spec = spec
        self.container_id = container_id
        self._lock = threading.Lock()
        self._latest: bytes = b""
        self._seen = 0
        self._response = None

    def run(self) -> None:
        """Read until the container stops or `close()`; raises EngineError when the engine fails."""
        with translated(self.spec.name, "Follow stats"):
            client = client_for(self.spec, timeout=STREAM_TIMEOUT)
            url = client.api._url("/containers/{0}/stats", self.container_id)
            response = client.api._get(url, params={"stream": True}, stream=True)
            client.api._raise_for_status(response)
            self._response = response
            pending = b""
            for chunk in response.iter_content(chunk_size=None):
                pending += chunk
                if b"\n" not in pending:
                    continue
                complete, _, pending = pending.rpartition(b"\n")
                newest = complete.rpartition(b"\n")[2]
                with self._lock:
                    self._latest = newest
                    self._seen += 1

    def latest(self) -> tuple[int, dict | None]:
        """Return (how many documents arrived so far, the newest decoded), (0, None) before the first."""
        with self._lock:
            raw, seen = self._latest, self._seen
        return seen, json.loads(raw) if raw else None

    def close(self) -> None:
        response = self._response
        if response is not None:
            # Closing a stream that already broke is not an error.
            with contextlib.suppress(Exception):
                response.close()


@dataclass(frozen=True)
class ContainerLimits:
    """A container's labels and limits as the engine holds them."""

    id: str
    labels: dict
    running: bool
    cpu_limit: float  # cores; 0 for none
    memory_limit_bytes: int  # 0 for none
    oom_killed: bool
    restart_count: int


def container_limits(spec: EngineSpec, container_id: str) -> ContainerLimits:
    """Inspect one container (raises EngineError with not_found when it is gone)."""
    with translated(spec.name, "Inspect container"):
        data = client_for(spec).api.inspect_container(container_id)
    host_config = data.get("HostConfig") or {}
    state = data.get("State") or {}
    cpu = host_config.get("NanoCpus") or 0
    if not cpu and host_config.get("CpuQuota", 0) > 0 and host_config.get("CpuPeriod"):
        cpu = host_config["CpuQuota"] / host_config["CpuPeriod"] * 1e9
    return ContainerLimits(
        id=data["Id"],
        labels=(data.get("Config") or {}).get("Labels") or {},
        running=bool(state.get("Running")),
        cpu_limit=cpu / 1e9,
        memory_limit_bytes=int(host_config.get("Memory") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(data.get("RestartCount") or 0),
    )


def running_berth_containers(spec: EngineSpec) -> list[str]:
    """Return the ids of the running containers that carry the berth.app label."""
    with translated(spec.name, "List Berth containers"):
        found = client_for(spec).api.containers(filters={"label": [APP_LABEL], "status": "running"})
    return [item["Id"] for item in found]


def lifecycle_events(spec: EngineSpec) -> Closable:
    """Follow the start, die and oom events of Berth containers; yields {"id", "action", "time_ns"}."""
    with translated(spec.name, "Follow events"):
        client = client_for(spec, timeout=STREAM_TIMEOUT)
        stream = client.api.events(
            decode=True, filters={"type": ["container"], "event": list(EVENT_ACTIONS), "label": [APP_LABEL]}
        )

    def events():
        with translated(spec.name, "Follow events"):
            for event in stream:
                yield {
                    "id": event.get("id") or event.get("Actor", {}).get("ID", ""),
                    "action": event.get("Action") or event.get("status", ""),
                    "time_ns": int(event.get("timeNano") or 0),
                }

    return Closable(events(), stream.close)


def host_size(spec: EngineSpec) -> tuple[int, int]:
    """Return (CPUs, memory bytes) of the engine's machine."""
    with translated(spec.name, "Read host size"):
        info = client_for(spec).info()
    return int(info.get("NCPU") or 0), int(info.get("MemTotal") or 0)
