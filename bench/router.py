"""Router switch cost: from "new server healthy" to "old server may stop", with 1, 1,000 and 10,000 routes loaded.

    BERTH_DATA_DIR=/tmp/berth-bench .venv/bin/python bench/router.py [--routes 1,1000,10000] [--switches 20]

For each size, a real HAProxy (Berth's driver, deployments/router/) serves that many routes; one of them, the measured
app, has a real upstream (a small HTTP server on loopback) and is switched back and forth between two upstreams
`--switches` times while clients request it in a loop: one on a kept-alive connection (a pooled client) and one
opening a new connection per request. A switch is `HAProxy.apply(routes)` with the measured app's upstream changed:
add and enable the new server, put the old in maintenance, and wait until HAProxy accepts `del server` (no connection
left): then the old server may stop. The current state (config, maps, state.json) is written after that, by a writer
thread holding the router's lock; its time is reported apart. Reported: the median and the maximum switch, the state
write, failed requests (any non-200 or error), requests served, and the HAProxy worker pids before and after (no
reload). Everything runs on loopback; the router lives under BERTH_DATA_DIR and is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deployments.router.config import Route  # noqa: E402
from deployments.router.haproxy import HAProxy  # noqa: E402

HOST = "bench.acme.localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Upstream:
    """An app server on loopback answering its name."""

    def __init__(self, name: str):
        body = f"{name}\n".encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Client(threading.Thread):
    """Requests in a loop, on one kept-alive connection or a new one each time, counting every outcome."""

    def __init__(self, port: int, *, keepalive: bool):
        super().__init__(daemon=True)
        self.port, self.keepalive = port, keepalive
        self.ok, self.failed, self.errors = 0, 0, []
        self.stop = threading.Event()

    def run(self):
        connection = None
        while not self.stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                headers = {"Host": HOST} if self.keepalive else {"Host": HOST, "Connection": "close"}
                connection.request("GET", "/", headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(f"HTTP {response.status}")
                if response.will_close or not self.keepalive:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                self.failed += 1
                self.errors.append(repr(error))
                connection.close()
                connection = None
            time.sleep(0.002)
        if connection is not None:
            connection.close()


def measure(size: int, switches: int, base: Path) -> dict:
    prefix = base / f"router-bench-{size}-{secrets.token_hex(3)}"
    prefix.mkdir(parents=True)
    haproxy = HAProxy(prefix=prefix, port=free_port(), tls_port=free_port())
    blue, green = Upstream("blue"), Upstream("green")
    # The other apps point at a port nothing listens on: they are loaded, never requested.
    others = [
        Route(
            key=f"t{n // 100}__a{n}",
            hostnames=(f"a{n}.t{n // 100}.localhost",),
            upstreams=(f"127.0.0.1:{9000 + n % 500}",),
        )
        for n in range(size - 1)
    ]
    try:
        started = time.perf_counter()
        haproxy.apply([Route(key="acme__bench", hostnames=(HOST,), upstreams=(blue.address,)), *others])
        start_s = time.perf_counter() - started
        workers = haproxy.workers()
        clients = [Client(haproxy.port, keepalive=True), Client(haproxy.port, keepalive=False)]
        for client in clients:
            client.start()
        time.sleep(0.3)
        took, persisted = [], []
        for n in range(switches):
            upstream = (green, blue)[n % 2]
            routes = [Route(key="acme__bench", hostnames=(HOST,), upstreams=(upstream.address,)), *others]
            begin = time.perf_counter()
            applied = haproxy.apply(routes)
            took.append((time.perf_counter() - begin) * 1000)
            haproxy.wait_written()
            persisted.append(haproxy.last_persist_ms)
            assert applied.drained == 1 and not applied.reloaded, applied
            time.sleep(0.05)
        time.sleep(0.2)
        for client in clients:
            client.stop.set()
            client.join(timeout=30)
        return {
            "routes": size,
            "start_s": start_s,
            "median_ms": statistics.median(took),
            "max_ms": max(took),
            "persist_ms": statistics.median(persisted),
            "failed": sum(c.failed for c in clients),
            "served": sum(c.ok for c in clients),
            "errors": [e for c in clients for e in c.errors][:3],
            "same_workers": haproxy.workers() == workers,
        }
    finally:
        haproxy.stop()
        blue.close()
        green.close()
        shutil.rmtree(prefix, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", default="1,1000,10000")
    parser.add_argument("--switches", type=int, default=20)
    args = parser.parse_args()
    base = Path(os.environ.get("BERTH_DATA_DIR", "./var")).resolve()
    print("| routes | HAProxy start | switch median | switch max | state written after | failed / served | reload |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for size in (int(s) for s in args.routes.split(",")):
        r = measure(size, args.switches, base)
        print(
            f"| {r['routes']:,} | {r['start_s']:.2f} s | {r['median_ms']:.1f} ms | {r['max_ms']:.1f} ms "
            f"| {r['persist_ms']:.1f} ms | {r['failed']} / {r['served']:,} | {'none' if r['same_workers'] else 'YES'} |"
            + (f" {r['errors']}" if r["errors"] else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
