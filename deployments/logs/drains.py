"""Forwarding stored lines to each app's drains: RFC 5424 syslog over TCP or TLS (octet counting), HTTPS batches.

The collector's writer offers every batch its sink stored. Each drain has a sender thread with a bounded queue:
while the receiver is down the queue holds up to BERTH_DRAIN_BUFFER_LINES lines and what does not fit is counted
(Drain.dropped), never silently lost. Syslog has no acknowledgement, so the frames written in the last few seconds
stay in flight: when the connection breaks they are sent again after the reconnection. Every frame carries its
line's cursor as a frame id (`[berth@32473 id="..."]`), with which a receiver drops the duplicates.
"""

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connection

from deployments.logs import store
from deployments.logs.records import LogRecord
from deployments.outbound import Target, connect, http_post, outbound_target, tls_context
from portal.errors import Invalid

logger = logging.getLogger(__name__)

SCHEMES = {"syslog": None, "syslog+tls": None, "https": 443}  # URL scheme -> default port
SD_ID = "berth@32473"
BATCH_FRAMES = 500
IN_FLIGHT_SECONDS = 5.0
REFRESH_SECONDS = 5.0
STATS_SECONDS = 1.0
CONNECT_TIMEOUT = 5.0
BACKOFF_MAX = 2.0
FACILITY_USER = 1
SEVERITY = {"stdout": 6, "stderr": 3}  # informational, error


def _sd_value(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_field(value: str, limit: int) -> str:
    printable = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return printable or "-"


def syslog_message(record: LogRecord) -> bytes:
    """The RFC 5424 message of a line: host `<app>.<tenant>`, app name, PROCID the process (`web.1`, `run.3`)."""
    pri = FACILITY_USER * 8 + SEVERITY.get(record.stream, 6)
    stamp = record.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    procid = record.process if record.index is None else f"{record.process}.{record.index}"
    params = {
        "id": record.cursor,
        "tenant": record.tenant,
        "app": record.app,
        "release": record.release if record.release is not None else "",
        "process": procid,
        "container": record.container[:12],
        "stream": record.stream,
    }
    data = f"[{SD_ID} " + " ".join(f'{key}="{_sd_value(value)}"' for key, value in params.items()) + "]"
    host = _header_field(f"{record.app}.{record.tenant}", 255)
    header = f"<{pri}>1 {stamp} {host} {_header_field(record.app, 48)} {_header_field(procid, 128)} log {data} "
    return header.encode() + record.line.encode("utf-8", "replace")


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet counting: the length, a space, the message."""
    return str(len(message)).encode() + b" " + message


class Sender:
    """One drain's queue and the thread that empties it into the receiver."""

    def __init__(self, spec: store.DrainSpec, *, bound: int):
        self.spec = spec
        self.bound = bound
        self.pending: deque[bytes] = deque()
        self.in_flight: deque[tuple[float, bytes]] = deque()
        self.dropped = 0
        self.delivered = 0
        self.error: str | None = None
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"drain-{spec.id}", daemon=True)
        self._stats_at = 0.0

    def start(self) -> "Sender":
        self._thread.start()
        return self

    def offer(self, frames: list[bytes]) -> None:
        with self._condition:
            room = max(0, self.bound - len(self.pending))
            self.pending.extend(frames[:room])
            self.dropped += len(frames) - min(room, len(frames))
            self._condition.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._condition:
            self._condition.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # the thread

    def _run(self) -> None:
        backoff = 0.1
        try:
            while not self._stop.is_set():
                with self._condition:
                    if not self.pending:
                        self._condition.wait(timeout=0.5)
                    batch = [self.pending[i] for i in range(min(BATCH_FRAMES, len(self.pending)))]
                if not batch and self.in_flight and self._sock is not None and self._peer_closed():
                    # Idle, but what was written last may have gone into a connection the receiver then dropped.
                    self._failed(ConnectionResetError("the receiver closed the connection"))
                    continue
                self._expire_in_flight()
                if batch:
                    try:
                        self._send(batch)
                    except (OSError, Invalid) as exc:
                        self._failed(exc)
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, BACKOFF_MAX)
                        self._flush_stats()
                        continue
                    backoff = 0.1
                    with self._condition:
                        for _ in batch:
                            self.pending.popleft()
                    self.delivered += len(batch)
                    if self.error:
                        logger.info("drain %s is reachable again", self.spec.id)
                        self.error = ""
                self._flush_stats()
        finally:
            self._close()
            self._flush_stats(force=True)
            connection.close()

    def _target(self) -> Target:
        # Checked before every connection: the name may resolve elsewhere than when the drain was added.
        return outbound_target(self.spec.url, schemes=SCHEMES)

    def _send(self, batch: list[bytes]) -> None:
        target = self._target() if self._sock is None else None
        if self.spec.url.startswith("https://"):
            target = target or self._target()
            status, _answer = http_post(
                target,
                body=b"".join(batch),
                headers={"Content-Type": "application/logplex-1", "Logplex-Msg-Count": str(len(batch))},
                timeout=CONNECT_TIMEOUT * 2,
                ca_certificate=self.spec.ca_certificate,
            )
            if not 200 <= status < 300:
                raise OSError(f"the receiver answered {status}")
            return
        if self._sock is None:
            tls = tls_context(self.spec.ca_certificate) if target.scheme == "syslog+tls" else None
            self._sock = connect(target, timeout=CONNECT_TIMEOUT, tls=tls)
        elif self._peer_closed():
            raise ConnectionResetError("the receiver closed the connection")
        self._sock.sendall(b"".join(batch))
        now = time.monotonic()
        self.in_flight.extend((now, frame) for frame in batch)

    def _peer_closed(self) -> bool:
        """Whether the receiver closed its end (it never writes, so anything readable means the end)."""
        readable, _, _ = select.select([self._sock], [], [], 0)
        if not readable:
            return False
        if isinstance(self._sock, ssl.SSLSocket):
            # TLS 1.3 servers send session tickets after the handshake: read what is there without blocking; only
            # the end of the stream (or a close_notify) means the receiver went away.
            timeout = self._sock.gettimeout()
            self._sock.setblocking(False)
            try:
                return self._sock.recv(1024) == b""
            except ssl.SSLWantReadError:
                return False
            except OSError:
                return True
            finally:
                self._sock.settimeout(timeout)
        try:
            return self._sock.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, OSError):
            return True

    def _expire_in_flight(self) -> None:
        horizon = time.monotonic() - IN_FLIGHT_SECONDS
        while self.in_flight and self.in_flight[0][0] < horizon:
            self.in_flight.popleft()

    def _failed(self, exc: Exception) -> None:
        self._close()
        message = exc.message if isinstance(exc, Invalid) else f"{exc.__class__.__name__}: {exc}"
        if self.error != message:
            logger.warning(
                "drain %s (%s): %s; %d lines queued", self.spec.id, self.spec.url, message, len(self.pending)
            )
        self.error = message
        # What was written lately may not have reached the receiver: send it again, ahead of the queue.
        with self._condition:
            self.pending.extendleft(frame for _, frame in reversed(self.in_flight))
        self.in_flight.clear()

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _flush_stats(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._stats_at < STATS_SECONDS:
            return
        self._stats_at = now
        with self._condition:
            dropped, self.dropped = self.dropped, 0
        delivered, self.delivered = self.delivered, 0
        if not (dropped or delivered or self.error is not None):
            return
        try:
            store.drain_counts_record(drain_id=self.spec.id, delivered=delivered, dropped=dropped, error=self.error)
        except Exception:
            close_old_connections()
            with self._condition:
                self.dropped += dropped
            self.delivered += delivered
            logger.warning("could not record the counters of drain %s", self.spec.id, exc_info=True)


class DrainForwarder:
    """The senders of every drain of the apps whose lines one writer stores."""

    def __init__(self, *, bound: int | None = None, specs_of=None):
        self.bound = bound or settings.BERTH_DRAIN_BUFFER_LINES
        self._specs_of = specs_of or store.drain_specs
        self._apps: dict[int, tuple[float, list[int]]] = {}
        self._senders: dict[int, Sender] = {}
        self._lock = threading.Lock()

    def offer(self, records: list[LogRecord]) -> None:
        """Queue stored lines for their apps' drains; never raises (a drain must not stop the sink)."""
        try:
            by_app: dict[int, list[LogRecord]] = {}
            for record in records:
                by_app.setdefault(record.app_id, []).append(record)
            for app_id, lines in by_app.items():
                senders = self._senders_of(app_id)
                if not senders:
                    continue
                frames = [octet_frame(syslog_message(record)) for record in lines]
                for sender in senders:
                    sender.offer(frames)
        except Exception:
            logger.exception("forwarding %d lines to drains failed", len(records))

    def _senders_of(self, app_id: int) -> list[Sender]:
        now = time.monotonic()
        with self._lock:
            cached = self._apps.get(app_id)
        if cached is None or now - cached[0] > REFRESH_SECONDS:
            specs = self._specs_of(app_id=app_id)
            with self._lock:
                known = set(cached[1]) if cached else set()
                for spec in specs:
                    if spec.id not in self._senders:
                        self._senders[spec.id] = Sender(spec, bound=self.bound).start()
                for gone in known - {spec.id for spec in specs}:
                    self._senders.pop(gone).stop(timeout=0)
                self._apps[app_id] = (now, [spec.id for spec in specs])
        with self._lock:
            return [self._senders[pk] for pk in self._apps[app_id][1]]

    def senders(self) -> list[Sender]:
        with self._lock:
            return list(self._senders.values())

    def stop(self) -> None:
        for sender in self.senders():
            sender.stop()
