"""Re-encrypt every secret at rest under the newest key of BERTH_SECRET_KEYS.

Rotation: prepend a new key to BERTH_SECRET_KEYS, run this command, then drop the old key. Each batch is its own
transaction and a value already under the newest key is left alone, so the command can be interrupted at any point
(even by SIGKILL) and run again: every value stays readable with the configured keys throughout.
"""

import time
from collections.abc import Callable, Iterator

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction

from deployments import crypto
from deployments.models import (
    AcmeAccount,
    Certificate,
    ConfigVar,
    DefaultCertificate,
    DockerHost,
    Domain,
    LogSink,
    Release,
)

# Every Fernet token starts with the version byte 0x80, base64-encoded as "gAAAAA"; anything else is clear text
# that was never encrypted (a public certificate, say) and is left alone.
FERNET_PREFIX = "gAAAAA"
TLS_FIELDS = ("tls_ca", "tls_cert", "tls_key")


class Unreadable(Exception):
    """A value that looks encrypted but no configured key decrypts."""


def _rotated(value: str) -> str | None:
    """The value re-encrypted under the newest key, or None when it needs no change."""
    if not value or not value.startswith(FERNET_PREFIX) or crypto.encrypted_with_newest_key(value):
        return None
    try:
        return crypto.rotate(value)
    except InvalidToken as error:
        raise Unreadable from error


def _rotate_fields(obj: models.Model, fields: tuple[str, ...]) -> bool:
    changed = False
    for field in fields:
        new = _rotated(getattr(obj, field))
        if new is not None:
            setattr(obj, field, new)
            changed = True
    return changed


def _rotate_release(release: Release) -> bool:
    config, changed = {}, False
    for key, entry in release.config.items():
        new = _rotated(entry["value"]) if entry.get("secret") else None
        if new is not None:
            entry, changed = {**entry, "value": new}, True
        config[key] = entry
    release.config = config
    return changed


def _write(model: type[models.Model], objs: list[models.Model], fields: list[str]) -> None:
    """Write `fields` of `objs` with one prepared UPDATE sent as a batch.

    Not Model.save(): a release snapshot keeps its content, only the ciphertext of its secrets changes. Not
    bulk_update() either: its CASE expression made the whole rotation several times slower (bench/rotate_secrets.py).
    """
    if not objs:
        return
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    # Identifiers come from the model's own metadata, values go as parameters.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    params = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


class Command(BaseCommand):
    help = (
        "Re-encrypt config vars, release snapshots, host TLS keys, certificate keys, the ACME account key and log "
        "sink credentials."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument(
            "--pause", type=float, default=0.0, help="Seconds to wait between batches, to spare a busy database."
        )

    def handle(self, *args, batch_size: int, pause: float, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        def fields_of(*names: str) -> Callable[[models.Model], bool]:
            return lambda obj: _rotate_fields(obj, names)

        targets = [
            ("config vars", ConfigVar.objects.filter(secret=True), fields_of("value"), ["value"]),
            ("release snapshots", Release.objects.all(), _rotate_release, ["config"]),
            ("host TLS material", DockerHost.objects.all(), fields_of(*TLS_FIELDS), list(TLS_FIELDS)),
            ("domain keys", Domain.objects.all(), fields_of("private_key"), ["private_key"]),
            ("certificate keys", Certificate.objects.all(), fields_of("private_key"), ["private_key"]),
            ("default certificate key", DefaultCertificate.objects.all(), fields_of("private_key"), ["private_key"]),
            ("ACME account key", AcmeAccount.objects.all(), fields_of("private_key"), ["private_key"]),
            ("log sink credentials", LogSink.objects.all(), fields_of("credentials"), ["credentials"]),
        ]
        unreadable = 0
        for label, queryset, rotate, fields in targets:
            rotated = 0
            for batch_rotated, batch_unreadable in self._batches(queryset, rotate, fields, batch_size, pause):
                rotated += batch_rotated
                unreadable += batch_unreadable
                self.stdout.write(f"{label}: {rotated} rotated")
                self.stdout.flush()
            self.stdout.write(f"{label}: done, {rotated} rotated")
        if unreadable:
            raise CommandError(
                f"{unreadable} value(s) could not be decrypted with any configured key and were left as they are."
            )
        self.stdout.write(self.style.SUCCESS("Every secret is encrypted under the newest key."))

    def _batches(self, queryset, rotate, fields, batch_size: int, pause: float) -> Iterator[tuple[int, int]]:
        last = 0
        while True:
            with transaction.atomic():
                # Locking the rows keeps a concurrent write from being overwritten by its older, rotated value.
                batch = list(queryset.select_for_update().filter(pk__gt=last).order_by("pk")[:batch_size])
                if not batch:
                    return
                changed, unreadable = [], 0
                for obj in batch:
                    try:
                        if rotate(obj):
                            changed.append(obj)
                    except Unreadable:
                        unreadable += 1
                _write(queryset.model, changed, fields)
                last = batch[-1].pk
            yield len(changed), unreadable
            if pause:
                time.sleep(pause)
