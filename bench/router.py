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
import gc
import http.client
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deployments.router.config import Route  # noqa: E402
from deployments.router.haproxy import HAProxy  # noqa: E402
from deployments.tests.router.conftest import Upstream, free_port  # noqa: E402  (the tests' loopback app server)

HOST = "bench.acme.localhost"


class Client(multiprocessing.Process):
    """Requests in a loop, on one kept-alive connection or a new one each time, counting every outcome.

    A process of its own, as a client is: in the bench's process its threads would compete with the driver for the
    interpreter lock and slow the switch they measure.
    """

    def __init__(self, port: int, *, keepalive: bool):
        super().__init__(daemon=True)
        self.port, self.keepalive = port, keepalive
        self.stop = multiprocessing.Event()
        self.results = multiprocessing.SimpleQueue()
        self.ok, self.failed, self.errors = 0, 0, []

    def run(self):
        ok, failed, errors = 0, 0, []
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
                    ok += 1
                else:
                    failed += 1
                    errors.append(f"HTTP {response.status}")
                if response.will_close or not self.keepalive:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                failed += 1
                errors.append(repr(error))
                connection.close()
                connection = None
            time.sleep(0.002)
        if connection is not None:
            connection.close()
        self.results.put((ok, failed, errors[:3]))

    def finish(self) -> None:
        self.stop.set()
        self.ok, self.failed, self.errors = self.results.get()
        self.join(timeout=30)


def upstreams_serve(conn) -> None:
    """The two app servers (blue, green), in a process of their own like the clients; their addresses go back."""
    blue, green = Upstream("blue"), Upstream("green")
    conn.send((blue.address, green.address))
    conn.recv()  # until the bench is done
    blue.close()
    green.close()


class Pauses:
    """How long the garbage collector held this process, summed from `gc.callbacks` (part of a switch it lands in)."""

    def __init__(self):
        self.total_ms, self._began = 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.total_ms += (time.perf_counter() - self._began) * 1000

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def measure(size: int, switches: int, base: Path) -> dict:
    prefix = base / f"router-bench-{size}-{secrets.token_hex(3)}"
    prefix.mkdir(parents=True)
    haproxy = HAProxy(prefix=prefix, port=free_port(), tls_port=free_port())
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=upstreams_serve, args=(there,), daemon=True)
    server.start()
    blue, green = here.recv()
    pauses = Pauses()
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
        haproxy.apply([Route(key="acme__bench", hostnames=(HOST,), upstreams=(blue,)), *others])
        start_s = time.perf_counter() - started
        workers = haproxy.workers()
        clients = [Client(haproxy.port, keepalive=True), Client(haproxy.port, keepalive=False)]
        for client in clients:
            client.start()
        time.sleep(0.3)
        took, persisted, full = [], [], []
        for n in range(switches):
            upstream = (green, blue)[n % 2]
            route = Route(key="acme__bench", hostnames=(HOST,), upstreams=(upstream,))
            # Every other switch is a full apply (all routes given, as the router's periodic sync does), the others
            # name the one app that changed (as a switch does): both are timed, apart.
            paused = pauses.total_ms
            begin = time.perf_counter()
            applied = haproxy.apply([route, *others]) if n % 2 else haproxy.apply([route], only={route.key})
            (full if n % 2 else took).append(((time.perf_counter() - begin) * 1000, pauses.total_ms - paused))
            haproxy.wait_written()
            persisted.append(haproxy.last_persist_ms)
            assert applied.drained == 1 and not applied.reloaded, applied
            time.sleep(0.05)
        time.sleep(0.2)
        for client in clients:
            client.finish()
        return {
            "routes": size,
            "start_s": start_s,
            "median_ms": statistics.median(ms for ms, _gc in took),
            "max_ms": max(took)[0],
            "max_gc_ms": max(took)[1],
            "persist_ms": statistics.median(persisted),
            "full_median_ms": statistics.median(ms for ms, _gc in full),
            "full_max_ms": max(full)[0],
            "full_max_gc_ms": max(full)[1],
            "failed": sum(c.failed for c in clients),
            "served": sum(c.ok for c in clients),
            "errors": [e for c in clients for e in c.errors][:3],
            "same_workers": haproxy.workers() == workers,
        }
    finally:
        haproxy.stop()
        pauses.close()
        here.send("done")
        server.join(timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", default="1,1000,10000")
    parser.add_argument("--switches", type=int, default=20)
    args = parser.parse_args()
    base = Path(os.environ.get("BERTH_DATA_DIR", "./var")).resolve()
    print(
        "| routes | HAProxy start | switch median | switch max (of it GC) | full apply median | full apply max "
        "| state written after | failed / served | reload |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in (int(s) for s in args.routes.split(",")):
        r = measure(size, args.switches, base)
        print(
            f"| {r['routes']:,} | {r['start_s']:.2f} s | {r['median_ms']:.1f} ms | {r['max_ms']:.1f} ms "
            f"({r['max_gc_ms']:.1f} GC) | {r['full_median_ms']:.1f} ms | {r['full_max_ms']:.1f} ms "
            f"({r['full_max_gc_ms']:.1f} GC) "
            f"| {r['persist_ms']:.1f} ms | {r['failed']} / {r['served']:,} | {'none' if r['same_workers'] else 'YES'} |"
            + (f" {r['errors']}" if r["errors"] else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
