"""Delete old uploaded build sources: `manage.py prune_build_archives [--keep N] [--dry-run]`."""

from django.core.management.base import BaseCommand, CommandError

from deployments.services.builds.retention import ORPHAN_GRACE_SECONDS, build_archives_collect


class Command(BaseCommand):
    help = (
        "Keep the source archives of each app's last BERTH_BUILD_KEEP_ARCHIVES builds and delete the older ones, never "
        f"the archive of a pending or running build; delete archive files no build names, older than "
        f"{ORPHAN_GRACE_SECONDS} seconds. --dry-run lists what would go and deletes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, default=None, help="Archives kept per app (default: the setting).")
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")

    def handle(self, *args, keep, dry_run, **options):
        if keep is not None and keep < 0:
            raise CommandError("--keep must be 0 or more.")
        pruned = build_archives_collect(keep=keep, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {len(pruned.archives)} archives of old builds and {len(pruned.orphans)} orphan archives, "
            f"{pruned.bytes_freed} bytes."
        )
        for path in pruned.archives:
            self.stdout.write(f"  build archive {path}")
        for path in pruned.orphans:
            self.stdout.write(f"  orphan {path}")
