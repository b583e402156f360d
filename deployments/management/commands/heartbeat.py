"""Run the heartbeat and the reconciler forever (production runs one; embedded mode runs it as a thread)."""

from django.core.management.base import BaseCommand

from deployments.loops import run_heartbeat


class Command(BaseCommand):
    help = "Heartbeat every Docker host every 10 s (down when silent) and repair what drifted from the desired state."

    def handle(self, *args, **options):
        run_heartbeat()
