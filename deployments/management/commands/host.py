"""Staff actions on a Docker host for scripts: `manage.py host drain NAME` / `manage.py host ready NAME`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.selectors import host_get
from deployments.services.rollouts.operator import host_drain, host_ready
from portal.errors import ApplicationError, NotFound


class Command(BaseCommand):
    help = "Drain a host (no new containers; its apps roll out elsewhere) or make it ready again."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        for name, text in (("drain", "Move the host's apps to other hosts."), ("ready", "Take new containers again.")):
            actions.add_parser(name, help=text).add_argument("name")

    def handle(self, *args, action, name, **options):
        try:
            host = host_get(name=name)
        except NotFound:
            raise CommandError(f"No host {name!r}.") from None
        try:
            if action == "drain":
                apps = host_drain(actor=None, host=host)
                self.stdout.write(f"Host {name} draining; {len(apps)} app(s) rolling out elsewhere.")
            else:
                host_ready(actor=None, host=host)
                self.stdout.write(f"Host {name} ready.")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
