"""Run the whole portal in one process tree: ASGI server plus the background loops (embedded mode)."""

from daphne.cli import CommandLineInterface
from django.conf import settings
from django.core.management.base import BaseCommand

from deployments.loops import start_background


class Command(BaseCommand):
    help = "Serve Berth on 127.0.0.1:$BERTH_PORT with the worker, collector, reconciler and router beside it."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.BERTH_PORT)

    def handle(self, *args, bind, port, **options):
        start_background()
        self.stdout.write(f"Berth is serving on http://{bind}:{port}/")
        CommandLineInterface().run(["--bind", bind, "--port", str(port), "portal.asgi:application"])
