"""Local receivers for the outbound tests: an HTTP server recording requests, and a worker for due tasks."""

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django_tasks_db.models import DBTaskResult


@dataclass
class Received:
    at: float
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering `status` to every POST and recording each request."""

    status: int = 200
    requests: list = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(time.monotonic(), self.path, dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_due_tasks(*, until=lambda: False, timeout: float = 0.0) -> int:
    """Run every queued task once its run_after has come, as the database worker would; return how many ran.

    With `timeout`, keep waiting for tasks scheduled later until `until()` holds or the time is up.
    """
    deadline = time.monotonic() + timeout
    ran = 0
    while True:
        result = DBTaskResult.objects.ready().order_by("run_after", "enqueued_at").first()
        if result is not None:
            result.claim("test-worker")
            task_result = result.task_result
            result.task.call(*task_result.args, **task_result.kwargs)
            result.set_successful(None)
            ran += 1
            continue
        if until() or time.monotonic() >= deadline:
            return ran
        time.sleep(0.02)


class SyslogListener:
    """A syslog receiver on 127.0.0.1 (TCP, or TLS with `tls`): parses octet-counted frames, keeps each message.

    `stop()` closes the listening socket and every connection, as a receiver going down would; `start()` again
    listens on the same port.
    """

    def __init__(self, *, tls=None, port: int = 0):
        self.tls = tls
        self.port = port
        self.messages: list[bytes] = []
        self._lock = threading.Lock()
        self._server = None
        self._connections: list = []
        self._running = threading.Event()

    @property
    def url(self) -> str:
        return f"{'syslog+tls' if self.tls else 'syslog'}://127.0.0.1:{self.port}"

    def start(self) -> "SyslogListener":
        import socket

        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(0.2)
        self.port = server.getsockname()[1]
        self._server = server
        self._running.set()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server) -> None:

        while self._running.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            if not self._running.is_set():
                conn.close()  # accepted from the backlog while stopping: a receiver that is down takes nothing
                continue
            conn.settimeout(None)
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (TimeoutError, OSError):
                    conn.close()
                    continue
            self._connections.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn) -> None:
        buffer = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while True:
                space = buffer.find(b" ")
                if space <= 0:
                    break
                length = int(buffer[:space])
                if len(buffer) < space + 1 + length:
                    break
                with self._lock:
                    self.messages.append(buffer[space + 1 : space + 1 + length])
                buffer = buffer[space + 1 + length :]

    def stop(self) -> None:
        import socket

        self._running.clear()
        self._server.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._connections = []

    def unique(self) -> list[bytes]:
        """The messages in arrival order, each frame id once (a resent frame is a duplicate)."""
        import re

        seen, kept = set(), []
        with self._lock:
            messages = list(self.messages)
        for message in messages:
            frame_id = re.search(rb' id="([^"]+)"', message).group(1)
            if frame_id not in seen:
                seen.add(frame_id)
                kept.append(message)
        return kept


def self_signed_certificate(address: str = "127.0.0.1") -> tuple[str, str]:
    """A fresh self-signed certificate for `address` (its IP in the SAN) and its key, as PEM texts."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth test receiver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem
