"""Run HAProxy and keep it in step with the routes (one per router machine); `--check` and `--stop` for `make`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.loops import run_router
from deployments.router import RouterError, router


class Command(BaseCommand):
    help = (
        "Start HAProxy on BERTH_ROUTER_PORT/BERTH_ROUTER_TLS_PORT under BERTH_DATA_DIR/router and apply route changes "
        "at runtime; --check: only say whether its ports are free (or held by this router); --stop: stop HAProxy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="check the router's ports and exit")
        parser.add_argument("--stop", action="store_true", help="stop this data directory's HAProxy and exit")

    def handle(self, *args, check: bool, stop: bool, **options):
        haproxy = router()
        if stop:
            running = haproxy.running()
            haproxy.stop()
            self.stdout.write("router stopped" if running else "router was not running")
            return
        try:
            haproxy.ports_check()
        except RouterError as error:
            raise CommandError(str(error)) from None
        if check:
            state = "runs" if haproxy.running() else "can start"
            self.stdout.write(f"router {state} on {haproxy.bind}:{haproxy.port} (HTTPS {haproxy.tls_port})")
            return
        run_router()
