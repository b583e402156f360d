"""Run nginx and keep its config in step with the routed containers (one per router machine)."""

from django.core.management.base import BaseCommand

from deployments.loops import run_router


class Command(BaseCommand):
    help = "Start nginx on BERTH_ROUTER_PORT under BERTH_DATA_DIR/router and apply route changes every 5 s."

    def handle(self, *args, **options):
        run_router()
