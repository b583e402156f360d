"""Local receivers for the outbound tests: an HTTP server recording requests, and a worker for due tasks."""

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
