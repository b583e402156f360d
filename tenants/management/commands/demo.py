"""Create the demo tenant and user when no user exists, and say how to log in."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a demo tenant `demo` and a user `demo` with a random password, unless a user exists."

    def handle(self, *args, **options):
        users = get_user_model().objects
        # `make run` calls this on every start: the login is printed once, on the run that creates it.
        if users.exists():
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = users.create_user(username="demo", password=password, is_staff=True)
            tenant_create(actor=user, slug="demo", name="Demo team")
        self.stdout.write(
            self.style.SUCCESS("Demo tenant `demo` created.")
            + f"\nLog in at http://127.0.0.1:{self._port()}/login/ as user `demo` with password `{password}`"
            + "\n(the demo user is also platform staff, so the admin console and hosts are open to it)."
        )

    def _port(self) -> int:
        from django.conf import settings

        return settings.BERTH_PORT
