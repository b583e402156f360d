"""Register a buildpack stack: `manage.py addstack NAME BUILD_IMAGE [RUN_IMAGE] [--default]`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.services.stacks import stack_register
from portal.errors import ApplicationError


class Command(BaseCommand):
    help = "Register (or update) a stack: the image buildpacks compile in and the image the compiled app runs on."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("build_image")
        parser.add_argument("run_image", nargs="?", help="default: the build image")
        parser.add_argument("--default", action="store_true", help="Apps build on this stack (the first one is).")
        parser.add_argument("--description", default="")

    def handle(self, *args, name, build_image, run_image, default, description, **options):
        try:
            stack = stack_register(
                name=name, build_image=build_image, run_image=run_image or build_image, default=default,
                description=description,
            )  # fmt: skip
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Stack {stack.name}: build {stack.build_image}, run {stack.run_image}"
            + (" (default)" if stack.is_default else "")
        )
