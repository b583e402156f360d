"""Run one collector per Docker host (every registered host, or the local engine when none), the search indexer beside
them, and apply retention."""

import logging
import threading
import time

from django.db import close_old_connections, connection

from deployments.engine.client import EngineSpec
from deployments.logs import store
from deployments.logs.collector import Collector
from deployments.logs.search import BATCH, log_search_index

logger = logging.getLogger(__name__)

HOSTS_REFRESH_SECONDS = 30
PRUNE_EVERY_SECONDS = 600
# The lines a search reads without the trigram index are those written since the indexer's pass before last.
INDEX_EVERY_SECONDS = 1.0
INDEX_BATCHES_PER_PASS = 20


def run_indexer(stop: threading.Event, *, every: float = INDEX_EVERY_SECONDS) -> None:
    """Copy new lines into the search table (logs/search.py) every `every` seconds until `stop` is set."""
    try:
        while not stop.is_set():
            copied = 0
            try:
                copied = log_search_index(max_batches=INDEX_BATCHES_PER_PASS)
            except Exception:
                close_old_connections()
                logger.exception("indexing log lines for search failed")
            # A backlog (after the migration, or a burst) is worked through without waiting between passes.
            if copied < INDEX_BATCHES_PER_PASS * BATCH:
                stop.wait(every)
    finally:
        connection.close()


def run_collectors(
    stop: threading.Event,
    *,
    host: str | None = None,
    prune_every: float | None = PRUNE_EVERY_SECONDS,
    index_every: float | None = INDEX_EVERY_SECONDS,
) -> None:
    """Collect until `stop` is set; follow hosts as they are registered, changed or removed."""
    collectors: dict[str, tuple[EngineSpec, Collector]] = {}
    next_prune = time.monotonic() + 60
    if index_every:
        threading.Thread(
            target=run_indexer, args=(stop,), kwargs={"every": index_every}, name="logs-indexer", daemon=True
        ).start()
    try:
        while not stop.is_set():
            try:
                specs = {spec.name: spec for spec in store.log_hosts() if host is None or spec.name == host}
            except Exception:
                close_old_connections()
                logger.exception("reading the hosts to collect logs from failed")
                specs = {name: spec for name, (spec, _) in collectors.items()}
            for name in [name for name in collectors if name not in specs or collectors[name][0] != specs[name]]:
                collectors.pop(name)[1].stop()
            for name, spec in specs.items():
                if name not in collectors:
                    logger.info("collecting logs of host %s (%s)", name, spec.url)
                    collectors[name] = (spec, Collector(spec).start())
            if prune_every and time.monotonic() >= next_prune:
                next_prune = time.monotonic() + prune_every
                try:
                    removed = store.log_prune()
                    if removed:
                        logger.info("log retention removed %s", removed)
                except Exception:
                    close_old_connections()
                    logger.exception("log retention failed")
            stop.wait(HOSTS_REFRESH_SECONDS)
    finally:
        for _, collector in collectors.values():
            collector.stop()
