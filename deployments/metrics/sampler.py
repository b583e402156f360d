"""The sampler of one Docker host: a stats stream per Berth container, one recorded sample per interval.

Threads: one follows the engine's start/die/oom events, one per running container reads its stats stream (the
engine pushes a document a second; the reader keeps the newest as bytes), and one recorder wakes every interval,
decodes the newest document of each container, turns the difference with the previous one into a sample (CPU %
of one core over the interval, memory, bytes moved), adds the host's totals and stores the round in one
transaction. A container whose stream ended (it stopped) is dropped and produces no more samples.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from deployments import selectors
from deployments.engine import stats as engine
from deployments.engine.client import EngineError, EngineSpec
from deployments.engine.labels import APP_LABEL, INDEX_LABEL, PROCESS_LABEL, TENANT_LABEL
from deployments.models import ContainerEvent, ContainerEventKind, MetricSample
from deployments.services import metrics as services

logger = logging.getLogger(__name__)

# Rounds kept while the database refuses them; older ones are dropped (and logged).
MAX_PENDING_ROUNDS = 60
MAX_REMEMBERED_DEATHS = 10000


@dataclass
class Tracked:
    """A followed container: who it belongs to, its stream, and the reading the next sample is measured from."""

    id: str
    limits: engine.ContainerLimits
    target: object
    stream: engine.StatsStream
    thread: threading.Thread | None = None
    seen: int = 0
    baseline: engine.Reading | None = None

    @property
    def process_type(self) -> str:
        return self.limits.labels.get(PROCESS_LABEL, "")

    @property
    def index(self) -> int | None:
        value = self.limits.labels.get(INDEX_LABEL, "")
        return int(value) if value.isdigit() else None


def _delta(now: int, before: int) -> int:
    # A counter that went back started again (the container restarted): everything it shows is new.
    return now - before if now >= before else now


@dataclass
class Round:
    samples: list = field(default_factory=list)
    events: list = field(default_factory=list)


class Sampler:
    """Sample every Berth container of one engine until `stop()`."""

    def __init__(self, spec: EngineSpec, *, interval: float | None = None, record=None):
        self.spec = spec
        self.interval = interval or settings.BERTH_METRICS_INTERVAL
        self._record = record or services.metrics_record
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tracked: dict[str, Tracked] = {}
        self._events: list[ContainerEvent] = []
        self._died: dict[str, bool] = {}  # id -> whether its death was counted as an OOM kill
        self._pending: list[Round] = []
        self._event_stream = None
        self._threads: list[threading.Thread] = []
        self._host_size: tuple[int, int] = (0, 0)
        self._last_round: float | None = None
        self.rounds = 0
        self.last_recorded_at = None

    # lifecycle

    def start(self) -> "Sampler":
        for name, target in (("events", self._follow_events), ("recorder", self._record_loop)):
            thread = threading.Thread(target=target, name=f"metrics-{self.spec.name}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            tracked = list(self._tracked.values())
            events = self._event_stream
        if events is not None:
            events.close()
        for item in tracked:
            item.stream.close()
        for thread in [*self._threads, *(item.thread for item in tracked if item.thread)]:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def following(self) -> list[str]:
        with self._lock:
            return [item.id for item in self._tracked.values() if item.thread and item.thread.is_alive()]

    # events

    def _follow_events(self) -> None:
        backoff = 0.5
        try:
            while not self._stop.is_set():
                events = None
                try:
                    # Subscribe first, then list: a container starting in between is seen at least once.
                    events = engine.lifecycle_events(self.spec)
                    with self._lock:
                        self._event_stream = events
                    self._host_size = engine.host_size(self.spec)
                    for container_id in engine.running_berth_containers(self.spec):
                        self.follow(container_id)
                    backoff = 0.5
                    for event in events:
                        if self._stop.is_set():
                            break
                        self._on_event(event)
                except (EngineError, DatabaseError) as exc:
                    if self._stop.is_set():
                        break
                    # The engine or the database went away: follow again (and list again) once it is back.
                    close_old_connections()
                    if events is not None:
                        events.close()
                    logger.warning("metrics sampler of %s: %s; retrying in %.1fs", self.spec.name, exc, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            connection.close()

    def _on_event(self, event: dict) -> None:
        container_id, action = event["id"], event["action"]
        if action == "start":
            with self._lock:
                restarted = self._died.pop(container_id, None) is not None
            tracked = self.follow(container_id)
            if restarted and tracked is not None:
                self._add_event(tracked, ContainerEventKind.RESTART)
        elif action == "oom":
            tracked = self._tracked_or_inspect(container_id)
            if tracked is not None:
                with self._lock:
                    self._died[container_id] = True
                self._add_event(tracked, ContainerEventKind.OOM)
        elif action == "die":
            tracked = self._tracked_or_inspect(container_id)
            # The engine keeps a stopped container's stream open, sending empty documents: close it here.
            with self._lock:
                followed = self._tracked.pop(container_id, None)
            if followed is not None:
                followed.stream.close()
            with self._lock:
                counted = self._died.get(container_id, False)
                self._died[container_id] = counted
                if len(self._died) > MAX_REMEMBERED_DEATHS:
                    self._died.pop(next(iter(self._died)))
            if tracked is None or counted:
                return
            # The engine may not send an oom event (cgroup v2 without the memory.events notice): the state tells.
            try:
                if engine.container_limits(self.spec, container_id).oom_killed:
                    with self._lock:
                        self._died[container_id] = True
                    self._add_event(tracked, ContainerEventKind.OOM)
            except EngineError:
                pass

    def _tracked_or_inspect(self, container_id: str) -> Tracked | None:
        with self._lock:
            tracked = self._tracked.get(container_id)
        return tracked or self._describe(container_id)

    def _add_event(self, tracked: Tracked, kind: str) -> None:
        target = tracked.target
        event = ContainerEvent(
            kind=kind,
            at=timezone.now(),
            host=self.spec.name,
            container=tracked.id,
            tenant_id=target.tenant_id,
            tenant_slug=target.tenant,
            app_id=target.app_id,
            app_slug=target.app,
            process_type=tracked.process_type,
        )
        with self._lock:
            self._events.append(event)
        logger.info("%s/%s %s: container %s %s", target.tenant, target.app, tracked.process_type, tracked.id[:12], kind)

    # followers

    def _describe(self, container_id: str) -> Tracked | None:
        try:
            limits = engine.container_limits(self.spec, container_id)
            target = selectors.log_target_resolve(
                tenant_slug=limits.labels.get(TENANT_LABEL, ""), app_slug=limits.labels.get(APP_LABEL, "")
            )
        except EngineError:
            return None
        finally:
            connection.close()
        if target is None:
            return None
        return Tracked(
            id=container_id, limits=limits, target=target, stream=engine.StatsStream(self.spec, container_id)
        )

    def follow(self, container_id: str) -> Tracked | None:
        """Read the stats stream of a running container unless already read; return what is followed."""
        with self._lock:
            tracked = self._tracked.get(container_id)
            if tracked is not None and tracked.thread and tracked.thread.is_alive():
                return tracked
        tracked = self._describe(container_id)
        if tracked is None or not tracked.limits.running:
            return tracked
        thread = threading.Thread(
            target=self._read, args=(tracked,), name=f"metrics-{self.spec.name}-{container_id[:12]}", daemon=True
        )
        tracked.thread = thread
        with self._lock:
            if self._stop.is_set():
                return None
            self._tracked[container_id] = tracked
        thread.start()
        return tracked

    def _read(self, tracked: Tracked) -> None:
        try:
            tracked.stream.run()
        except EngineError as exc:
            if not self._stop.is_set() and not exc.not_found:
                logger.warning("stats of %s on %s: %s", tracked.id[:12], self.spec.name, exc)
        except Exception:
            if not self._stop.is_set():
                logger.exception("stats of %s on %s failed", tracked.id[:12], self.spec.name)

    # recording

    def _record_loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.record_round()
                except Exception:
                    logger.exception("metrics round of %s failed", self.spec.name)
        finally:
            connection.close()

    def take_round(self) -> Round:
        """Turn the newest reading of every followed container into a sample; drop the containers that stopped."""
        now = timezone.now()
        started = time.monotonic()
        elapsed = started - self._last_round if self._last_round is not None else self.interval
        self._last_round = started
        with self._lock:
            tracked = list(self._tracked.values())
            events, self._events = self._events, []
        samples = []
        for item in tracked:
            alive = item.thread is not None and item.thread.is_alive()
            seen, document = item.stream.latest()
            reading = engine.reading(document) if document and seen != item.seen else None
            item.seen = seen
            if reading is not None:
                if item.baseline is not None and reading.at_ns > item.baseline.at_ns:
                    samples.append(self._sample(item, reading, now))
                item.baseline = reading
            if not alive:
                with self._lock:
                    if self._tracked.get(item.id) is item:
                        del self._tracked[item.id]
        if samples:
            samples.append(self._host_sample(samples, now, elapsed))
        return Round(samples=samples, events=events)

    def record_round(self) -> int:
        """Take a round and store it (with the rounds the database refused before); return the samples stored."""
        self._pending.append(self.take_round())
        if len(self._pending) > MAX_PENDING_ROUNDS:
            lost = self._pending.pop(0)
            logger.warning("metrics of %s: %d samples lost, database unavailable", self.spec.name, len(lost.samples))
        stored = 0
        while self._pending:
            batch = self._pending[0]
            try:
                self._record(samples=batch.samples, events=batch.events)
            except DatabaseError:
                close_old_connections()
                logger.warning(
                    "metrics of %s: database unavailable, %d rounds kept", self.spec.name, len(self._pending)
                )
                break
            self._pending.pop(0)
            stored += len(batch.samples)
        self.rounds += 1
        if stored:
            self.last_recorded_at = timezone.now()
        return stored

    def _sample(self, item: Tracked, reading: engine.Reading, now) -> MetricSample:
        before = item.baseline
        wall_ns = reading.at_ns - before.at_ns
        cpu_ns = _delta(reading.cpu_ns, before.cpu_ns)
        target = item.target
        return MetricSample(
            at=now,
            host=self.spec.name,
            container=item.id,
            tenant_id=target.tenant_id,
            tenant_slug=target.tenant,
            app_id=target.app_id,
            app_slug=target.app,
            process_type=item.process_type,
            index=item.index,
            seconds=wall_ns / 1e9,
            cpu_percent=cpu_ns / wall_ns * 100,
            cpu_limit=item.limits.cpu_limit,
            cpu_seconds=cpu_ns / 1e9,
            memory_bytes=reading.memory_bytes,
            memory_max_bytes=reading.memory_bytes,
            memory_limit_bytes=item.limits.memory_limit_bytes or reading.memory_limit_bytes,
            rx_bytes=_delta(reading.rx_bytes, before.rx_bytes),
            tx_bytes=_delta(reading.tx_bytes, before.tx_bytes),
            read_bytes=_delta(reading.read_bytes, before.read_bytes),
            write_bytes=_delta(reading.write_bytes, before.write_bytes),
            pids=reading.pids,
        )

    def _host_sample(self, samples: list[MetricSample], now, elapsed: float) -> MetricSample:
        cpus, memory = self._host_size
        used = sum(sample.memory_bytes for sample in samples)
        return MetricSample(
            at=now,
            host=self.spec.name,
            seconds=elapsed,
            cpu_percent=sum(sample.cpu_percent for sample in samples),
            cpu_limit=cpus,
            cpu_seconds=sum(sample.cpu_seconds for sample in samples),
            memory_bytes=used,
            memory_max_bytes=used,
            memory_limit_bytes=memory,
            rx_bytes=sum(sample.rx_bytes for sample in samples),
            tx_bytes=sum(sample.tx_bytes for sample in samples),
            read_bytes=sum(sample.read_bytes for sample in samples),
            write_bytes=sum(sample.write_bytes for sample in samples),
            pids=sum(sample.pids for sample in samples),
            containers=len(samples),
        )
