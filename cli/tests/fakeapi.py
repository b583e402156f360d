"""A fake Berth API: canned answers per (method, path), every request recorded."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeApi:
    """Answers (method, path) with the next canned (status, body); the last answer repeats."""

    answers: dict = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def on(self, method: str, path: str, *answers) -> None:
        """Queue answers: each a body (status 200), a (status, body) pair or a (status, body, headers) triple."""
        queued = [a if isinstance(a, tuple) else (200, a) for a in answers]
        self.answers[(method, path)] = [a if len(a) == 3 else (*a, {}) for a in queued]

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method in (None, r.method)) and (path in (None, r.path))]

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                api.requests.append(Recorded(self.command, parts.path, query, dict(self.headers), body))
                queued = api.answers.get((self.command, parts.path))
                if not queued:
                    status, payload = 404, {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
                    headers = {}
                else:
                    status, payload, headers = queued.pop(0) if len(queued) > 1 else queued[0]
                raw = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def page(results: list, next_url: str | None = None) -> dict:
    return {"next": next_url, "previous": None, "results": results}
