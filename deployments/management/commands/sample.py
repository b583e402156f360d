"""Sample the resource use of Berth's containers: in production, one process per Docker host."""

import signal
import threading

from django.core.management.base import BaseCommand

from deployments.metrics.supervisor import downsample_once, run_samplers


class Command(BaseCommand):
    help = (
        "Read the stats of Berth's containers on a host (--host NAME) or on every registered host into the metrics "
        "store; --downsample-only folds and prunes the store once and exits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", help="Name of the DockerHost to sample (default: all, or the local engine)")
        parser.add_argument(
            "--downsample-every",
            type=float,
            default=None,
            help="Seconds between two downsampling passes (default BERTH_METRICS_DOWNSAMPLE_INTERVAL; 0: never, "
            "for all but one sampler process).",
        )
        parser.add_argument("--downsample-only", action="store_true", help="Downsample once and exit.")

    def handle(self, *args, host, downsample_every, downsample_only, **options):
        if downsample_only:
            downsample_once()
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"Sampling the containers of {host or 'every host'}.")
        self.stdout.flush()
        run_samplers(stop, host=host, downsample_every=downsample_every)
