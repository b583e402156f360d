"""Set, show or remove the router's default certificate (staff): `manage.py default_certificate --cert F --key F`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deployments.selectors import default_certificate_get
from deployments.services.certificates import default_certificate_remove, default_certificate_set
from portal.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "The certificate the router presents to names without their own: the apps domain's wildcard(s), e.g. "
        "*.<tenant>.<BERTH_APPS_DOMAIN> (a TLS wildcard covers one label). Without options, show the current one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cert", type=Path, help="PEM file of the chain, the leaf first.")
        parser.add_argument("--key", type=Path, help="PEM file of the leaf's private key.")
        parser.add_argument("--remove", action="store_true", help="Remove the default certificate.")

    def handle(self, *args, cert: Path | None, key: Path | None, remove: bool, **options):
        if remove and (cert or key):
            raise CommandError("Give --remove alone, or --cert and --key.")
        if remove:
            removed = default_certificate_remove(actor=None)
            self.stdout.write("Removed the default certificate." if removed else "There is no default certificate.")
            return
        if cert or key:
            if not (cert and key):
                raise CommandError("Give both --cert and --key.")
            try:
                chain, private_key = cert.read_text(), key.read_text()
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"Cannot read the PEM files: {error}") from None
            try:
                default_certificate_set(certificate=chain, private_key=private_key, actor=None)
            except ApplicationError as refusal:
                raise CommandError(refusal.message) from None
        current = default_certificate_get()
        if current is None:
            self.stdout.write("There is no default certificate; the router presents a self-signed one.")
            return
        self.stdout.write(f"Default certificate for {', '.join(current.names)}")
        self.stdout.write(f"  issuer:  {current.issuer}")
        self.stdout.write(f"  expires: {current.not_after:%Y-%m-%d %H:%M} UTC")
