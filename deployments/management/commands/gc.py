"""Collect the garbage of Docker hosts: `manage.py gc HOST [--dry-run]` or `manage.py gc --all [--dry-run]`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.models import DockerHost
from deployments.services.gc import gc_run, gc_run_all


class Command(BaseCommand):
    help = (
        "Remove exited Berth containers past the grace period, unused Berth and dangling images and the build cache "
        "of a host (BERTH_GC_* settings). --dry-run lists what would go and removes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("host", nargs="?", help="Name of a registered Docker host.")
        parser.add_argument("--dry-run", action="store_true", help="List what would be removed; remove nothing.")
        parser.add_argument("--all", action="store_true", help="Every registered host, one after the other.")

    def handle(self, *args, host, dry_run, all, **options):
        if bool(host) == bool(all):
            raise CommandError("Name one host, or pass --all.")
        if all:
            runs = gc_run_all(dry_run=dry_run)
        else:
            found = DockerHost.objects.filter(name=host).first()
            if found is None:
                raise CommandError(f"No Docker host is named {host!r} (see manage.py addhost).")
            runs = [gc_run(host=found, dry_run=dry_run)]
        for run in runs:
            self._print(run)
        failed = [run.host.name for run in runs if run.error]
        if failed:
            raise CommandError(f"Garbage collection failed on {', '.join(failed)}.")

    def _print(self, run) -> None:
        verb = "would remove" if run.dry_run else "removed"
        if run.error:
            self.stderr.write(run.error)
            return
        removed = run.removed
        self.stdout.write(
            f"{run.host.name}: {verb} {len(removed['containers'])} containers, {len(removed['images'])} images, "
            f"{run.bytes_reclaimed} bytes (run {run.pk})."
        )
        for container in removed["containers"]:
            self.stdout.write(f"  container {container['id']} {container['name']}")
        for image in removed["images"]:
            self.stdout.write(f"  image {image['id']} {' '.join(image['tags']) or '<dangling>'}")
