"""Issue an API token and print it alone on standard output (once: it is never stored in clear)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.errors import ApplicationError
from tenants.models import Tenant
from tenants.services import token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--tenant", default=None)
        parser.add_argument("--scopes", default="read")
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--name", default="")

    def handle(self, *args, username, tenant, scopes, expires_days, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        tenant_obj = None
        if tenant:
            tenant_obj = Tenant.objects.filter(slug=tenant).first()
            if tenant_obj is None:
                raise CommandError(f"No tenant named {tenant!r}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days is not None else None
        try:
            _, plaintext = token_create(
                user=user,
                scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
                tenant=tenant_obj,
                expires_at=expires_at,
                name=name,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(plaintext)
