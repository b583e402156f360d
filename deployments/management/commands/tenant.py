"""Staff actions on a tenant for scripts: `manage.py tenant suspend SLUG [--reason TEXT]` and `tenant resume SLUG`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.services.suspension import tenant_resume, tenant_suspend
from portal.errors import ApplicationError
from tenants.selectors import tenant_get_by_slug


class Command(BaseCommand):
    help = "Suspend a tenant (its apps answer a notice; nothing is deleted) or resume it."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        suspend = actions.add_parser("suspend", help="Make the tenant's apps answer the suspension notice.")
        suspend.add_argument("slug")
        suspend.add_argument("--reason", default="")
        resume = actions.add_parser("resume", help="Serve the tenant's apps again.")
        resume.add_argument("slug")

    def handle(self, *args, action, slug, **options):
        tenant = tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}.")
        try:
            if action == "suspend":
                tenant_suspend(actor=None, tenant=tenant, reason=options["reason"])
            else:
                tenant_resume(actor=None, tenant=tenant)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Tenant {slug} {'suspended' if action == 'suspend' else 'resumed'}.")
