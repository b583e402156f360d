"""Collect the logs of Berth's containers: in production, one process per Docker host."""

import signal
import threading

from django.core.management.base import BaseCommand

from deployments.logs.supervisor import INDEX_EVERY_SECONDS, PRUNE_EVERY_SECONDS, run_collectors


class Command(BaseCommand):
    help = "Follow Berth's containers on a host (--host NAME) or on every registered host, and store their logs."

    def add_arguments(self, parser):
        parser.add_argument("--host", help="Name of the DockerHost to collect from (default: all, or the local engine)")
        parser.add_argument(
            "--prune-every",
            type=float,
            default=PRUNE_EVERY_SECONDS,
            help="Seconds between two retention passes (0: never; run it on one collector only).",
        )
        parser.add_argument(
            "--index-every",
            type=float,
            default=INDEX_EVERY_SECONDS,
            help="Seconds between two passes of the search indexer (0: never; several collectors may run it).",
        )

    def handle(self, *args, host, prune_every, index_every, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"Collecting logs from {host or 'every host'}.")
        self.stdout.flush()
        run_collectors(stop, host=host, prune_every=prune_every or None, index_every=index_every or None)
