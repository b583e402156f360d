"""The collector of one Docker host: follows Berth's containers, stamps their lines, stores and publishes them.

Threads: one follows the engine's start events, one per (container, stream) reads a log stream, and one writer
batches lines per tenant into the tenant's sink, then records the checkpoints and publishes to the app's group.
Readers never touch a transaction; the writer's transactions last one batch.

A line is published only after its sink stored it, and a checkpoint moves only with it: killed at any moment, the
collector resumes from the checkpoint (the engine's `since=` in whole seconds, then skipping the lines already
stored at the checkpoint's instant), and the sink's idempotent write absorbs a batch that was stored but not
checkpointed.
"""

import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from deployments import selectors
from deployments.engine import logs as engine
from deployments.engine.client import EngineError, EngineSpec
from deployments.logs import store
from deployments.logs.records import LineSplitter, LogRecord, Position
from deployments.logs.sinks import SinkUnavailable
from deployments.realtime.events import log_lines_publish

logger = logging.getLogger(__name__)

STREAMS = ("stdout", "stderr")
BATCH_LINES = 200
BATCH_LINGER = 0.02
MAX_BATCH = 2000
SINK_REFRESH_SECONDS = 30
RETRY_MAX_SECONDS = 5.0


@dataclass
class TenantBuffer:
    """Lines waiting for one tenant's sink, bounded; what overflows is counted per app, never silently lost."""

    tenant_id: int
    bound: int
    records: deque = field(default_factory=deque)
    dropped: dict = field(default_factory=lambda: defaultdict(int))
    sink: object = None
    sink_loaded_at: float = 0.0
    retry_at: float = 0.0
    failures: int = 0


class Writer:
    """Batch lines per tenant into its sink; on success save checkpoints and publish; on failure keep and retry."""

    def __init__(self, *, host: str, bound: int | None = None, sink_of=None):
        self.host = host
        self.bound = bound or settings.BERTH_LOG_BUFFER_LINES
        self._sink_of = sink_of or store.log_sink_get
        self._buffers: dict[int, TenantBuffer] = {}
        self._condition = threading.Condition()
        self._pending = 0
        self.stored = 0

    def add(self, record: LogRecord) -> None:
        self.add_many([record])

    def add_many(self, records: list[LogRecord]) -> None:
        """Queue lines of one tenant (what one read of one stream produced)."""
        if not records:
            return
        tenant_id = records[0].tenant_id
        with self._condition:
            buffer = self._buffers.get(tenant_id)
            if buffer is None:
                buffer = self._buffers[tenant_id] = TenantBuffer(tenant_id=tenant_id, bound=self.bound)
            room = max(0, buffer.bound - len(buffer.records))
            buffer.records.extend(records[:room])
            for record in records[room:]:
                buffer.dropped[record.app_id] += 1
            was_idle = self._pending == 0
            self._pending += min(room, len(records))
            if was_idle or self._pending >= BATCH_LINES:
                self._condition.notify()

    def buffered(self) -> int:
        with self._condition:
            return self._pending

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                with self._condition:
                    if self._pending == 0:
                        self._condition.wait(timeout=0.5)
                    if 0 < self._pending < BATCH_LINES:
                        # Let a batch fill a little: fewer, larger writes at a cost of a few milliseconds.
                        self._condition.wait(timeout=BATCH_LINGER)
                self.flush()
            self.flush()
        finally:
            connection.close()

    def flush(self) -> None:
        """Write what every reachable sink can take now."""
        with self._condition:
            buffers = list(self._buffers.values())
        now = time.monotonic()
        for buffer in buffers:
            self._record_drops(buffer)
            while buffer.records and buffer.retry_at <= now:
                if not self._flush_one(buffer):
                    break

    def _record_drops(self, buffer: TenantBuffer) -> None:
        with self._condition:
            if not buffer.dropped:
                return
            counts, buffer.dropped = dict(buffer.dropped), defaultdict(int)
        try:
            store.log_drops_record(counts={app: (buffer.tenant_id, n) for app, n in counts.items()})
            logger.warning("tenant %s: %d log lines dropped, sink unreachable", buffer.tenant_id, sum(counts.values()))
        except DatabaseError:
            close_old_connections()
            with self._condition:
                for app, n in counts.items():
                    buffer.dropped[app] += n

    def _sink(self, buffer: TenantBuffer):
        if buffer.sink is None or time.monotonic() - buffer.sink_loaded_at > SINK_REFRESH_SECONDS:
            buffer.sink = self._sink_of(tenant_id=buffer.tenant_id)
            buffer.sink_loaded_at = time.monotonic()
        return buffer.sink

    def _flush_one(self, buffer: TenantBuffer) -> bool:
        try:
            sink = self._sink(buffer)
            with self._condition:
                size = min(len(buffer.records), getattr(sink, "max_batch", MAX_BATCH))
                batch = [buffer.records[i] for i in range(size)]
            positions: dict[tuple[str, str], tuple[int, int, int, int]] = {}
            for record in batch:
                key = (record.container, record.stream)
                positions[key] = (record.tenant_id, record.app_id, record.timestamp_ns, record.rank)
            sink.write(batch, on_stored=lambda: store.log_checkpoints_save(host=self.host, positions=positions))
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                # The database sink (or the checkpoint) failed: a broken connection must not outlive it.
                close_old_connections()
            buffer.failures += 1
            delay = min(RETRY_MAX_SECONDS, 0.1 * 2**buffer.failures)
            buffer.retry_at = time.monotonic() + delay
            if buffer.failures == 1 or not isinstance(exc, SinkUnavailable):
                logger.warning(
                    "log sink of tenant %s unavailable (%s); %d lines buffered",
                    buffer.tenant_id,
                    exc,
                    len(buffer.records),
                )
            if not isinstance(exc, SinkUnavailable):
                buffer.sink = None
            return False
        if buffer.failures:
            logger.info("log sink of tenant %s is back after %d failed writes", buffer.tenant_id, buffer.failures)
        buffer.failures, buffer.retry_at = 0, 0.0
        with self._condition:
            for _ in batch:
                buffer.records.popleft()
            self._pending -= len(batch)
        self.stored += len(batch)
        by_app: dict[int, list[dict]] = defaultdict(list)
        for record in batch:
            by_app[record.app_id].append(record.as_message())
        for app_id, messages in by_app.items():
            try:
                log_lines_publish(app_id=app_id, messages=messages)
            except Exception:
                # Stored lines stay readable as history; a lost live message is recovered by the client's cursor.
                logger.exception("publishing %d log lines of app %s failed", len(messages), app_id)
        return True


class Collector:
    """Follow every Berth container of one engine until `stop()`."""

    def __init__(self, spec: EngineSpec, *, writer: Writer | None = None):
        self.spec = spec
        self.writer = writer or Writer(host=spec.name)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._followers: dict[tuple[str, str], threading.Thread] = {}
        self._streams: dict[tuple[str, str], engine.Closable] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._events: engine.Closable | None = None
        self._threads: list[threading.Thread] = []

    # lifecycle

    def start(self) -> "Collector":
        for name, target in (("writer", lambda: self.writer.run(self._stop)), ("events", self._follow_events)):
            thread = threading.Thread(target=target, name=f"logs-{self.spec.name}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def run(self) -> None:
        """Run in the calling thread until stopped."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            streams = [*self._streams.values(), *([self._events] if self._events else [])]
        for stream in streams:
            stream.close()
        for thread in [*self._threads, *list(self._followers.values())]:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def following(self) -> int:
        with self._lock:
            return sum(1 for thread in self._followers.values() if thread.is_alive())

    # events

    def _follow_events(self) -> None:
        backoff = 0.5
        try:
            while not self._stop.is_set():
                try:
                    # Subscribe first, then list: a container starting in between is seen at least once.
                    events = engine.container_events(self.spec)
                    with self._lock:
                        self._events = events
                    self._sync()
                    backoff = 0.5
                    for event in events:
                        if self._stop.is_set():
                            break
                        self.follow(event["id"])
                except EngineError as exc:
                    if self._stop.is_set():
                        break
                    logger.warning("log collector of %s: %s; retrying in %.1fs", self.spec.name, exc, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            connection.close()

    def _sync(self) -> None:
        for container in engine.berth_containers(self.spec):
            self.follow(container.id, container=container)

    # followers

    def follow(self, container_id: str, *, container: engine.BerthContainer | None = None) -> None:
        """Follow both streams of a container unless already followed; a stopped one is read to its end."""
        with self._lock:
            if self._stop.is_set():
                return
            for stream in STREAMS:
                key = (container_id, stream)
                thread = self._followers.get(key)
                if thread is not None and thread.is_alive():
                    continue
                thread = threading.Thread(
                    target=self._follow_stream,
                    args=(container_id, stream, container),
                    name=f"logs-{self.spec.name}-{container_id[:12]}-{stream}",
                    daemon=True,
                )
                self._followers[key] = thread
                thread.start()

    def _follow_stream(self, container_id: str, stream: str, container: engine.BerthContainer | None) -> None:
        key = (container_id, stream)
        try:
            while not self._stop.is_set():
                if container is None:
                    container = engine.berth_container(self.spec, container_id)
                target = selectors.log_target_resolve(tenant_slug=container.tenant, app_slug=container.app)
                if target is None:
                    logger.debug(
                        "container %s names no known app (%s/%s)", container.name, container.tenant, container.app
                    )
                    return
                running = container.running
                self._read(container, stream, target, self._position(key), follow=running)
                if not running or self._stop.is_set():
                    return
                # The stream ended: the container stopped, or restarted before we noticed. Read on if it runs.
                container = engine.berth_container(self.spec, container_id)
                if not container.running:
                    # Read to the end what arrived between the stream's end and now (from where we are).
                    self._read(container, stream, target, self._position(key), follow=False)
                    return
        except EngineError as exc:
            if not self._stop.is_set() and not exc.not_found:
                logger.warning("following %s/%s on %s: %s", container_id[:12], stream, self.spec.name, exc)
        except Exception:
            if not self._stop.is_set():
                logger.exception("following %s/%s on %s failed", container_id[:12], stream, self.spec.name)
        finally:
            with self._lock:
                self._streams.pop(key, None)
            connection.close()

    def _position(self, key: tuple[str, str]) -> Position:
        with self._lock:
            position = self._positions.get(key)
        if position is None:
            timestamp_ns, count = selectors.log_checkpoint_get(host=self.spec.name, container=key[0], stream=key[1])
            position = Position(timestamp_ns, count)
        else:
            # Already read in this process (perhaps not stored yet): skip up to where we are.
            position = Position(position.timestamp_ns, position.count)
        with self._lock:
            self._positions[key] = position
        return position

    def _read(self, container, stream: str, target, position: Position, *, follow: bool) -> None:
        # A follower may read for days: it must not keep a database connection open meanwhile.
        connection.close()
        key = (container.id, stream)
        since = position.timestamp_ns // 1_000_000_000
        max_line = settings.BERTH_LOG_MAX_LINE_KB * 1024
        chunks = engine.log_stream(
            self.spec, container.id, stream=stream, since=since, follow=follow, max_line=max_line
        )
        with self._lock:
            if self._stop.is_set():
                chunks.close()
                return
            self._streams[key] = chunks
        splitter = LineSplitter()
        add_many = self.writer.add_many
        release, process, index = container.release, container.process, container.index
        index = int(index) if index.isdigit() else None

        def collect(chunk: bytes) -> None:
            records = []
            for timestamp_ns, text in splitter.feed(chunk):
                accepted = position.accept(timestamp_ns)
                if accepted is None:
                    continue
                records.append(
                    LogRecord(
                        tenant_id=target.tenant_id,
                        tenant=target.tenant,
                        app_id=target.app_id,
                        app=target.app,
                        release=release,
                        process=process,
                        index=index,
                        container=container.id,
                        stream=stream,
                        timestamp_ns=accepted[0],
                        rank=accepted[1],
                        line=text,
                    )
                )
            add_many(records)

        for chunk in chunks:
            collect(chunk)
        # A line left in pieces when the stream ended: complete if the container stopped (read without follow to its
        # end); otherwise it was never accepted, so the next read, from this position or the checkpoint, reads it
        # again whole.
        if not follow and not self._stop.is_set():
            unfinished = chunks.unfinished()
            if unfinished:
                collect(unfinished)
