"""Create a tenant, and its owner when the user does not exist yet."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.errors import ApplicationError
from tenants.services import tenant_create, user_get_or_create


class Command(BaseCommand):
    help = "Create a tenant owned by USERNAME (created without a password when missing)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--owner", required=True)
        parser.add_argument("--name", default="")

    def handle(self, *args, slug, owner, name, **options):
        try:
            # The owner is created only with the tenant: a refused slug leaves no stray user behind.
            with transaction.atomic():
                user = user_get_or_create(username=owner)
                tenant = tenant_create(actor=user, slug=slug, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created tenant {tenant.slug} owned by {user.get_username()}.")
