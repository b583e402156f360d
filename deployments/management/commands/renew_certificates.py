"""Queue the renewal of ACME certificates near expiry: once, or forever (production runs one; embedded runs a loop)."""

from django.core.management.base import BaseCommand

from deployments.loops import run_certificate_renewal
from deployments.services.certificates import certificates_renew_due


class Command(BaseCommand):
    help = (
        "Queue an ACME order for every certificate expiring within BERTH_CERT_RENEW_DAYS (default 30) and every "
        "order whose worker died; with --loop, every BERTH_CERT_CHECK_INTERVAL seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Run forever instead of once.")

    def handle(self, *args, loop: bool, **options):
        if loop:
            run_certificate_renewal()
            return
        queued = certificates_renew_due()
        self.stdout.write(f"{queued} certificate order(s) queued.")
