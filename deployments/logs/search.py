"""`?q=` on PostgreSQL without a trigram index on the collector's path: LogSearch and the indexer that fills it.

The collector COPYs lines into LogLine, which has no trigram index. The indexer copies them, in id order and in
batches, into LogSearch, which has one, and moves the watermark up: every line at or below it has its LogSearch row,
and no row is above it (rows and watermark commit together). A search is one statement, so one snapshot: the lines
found through LogSearch's trigram index, plus the lines above the watermark (the tail: a second or two of lines)
read through LogLine's primary key and filtered with LIKE. The two parts cannot overlap and together hold every line.

Why the watermark waits. Line ids come from one sequence, but concurrent COPY transactions (one collector per host)
commit out of order: id 7 may be visible while id 5 is still uncommitted. Moving the watermark past 5 then would lose
line 5 for good (not indexed, not in the tail). So each pass notes the largest visible id and the transactions then
holding LogLine open for writing; a later pass moves the watermark up to that id only once they have all ended. That
is enough: a transaction takes its lock on the table before it asks the sequence for an id, so one holding an id
below the noted one had asked for it before that id's transaction committed, before the pass read; at that read it
had committed or held its lock. Only writers of LogLine are waited for, not every transaction of the server (a long
report elsewhere does not hold the watermark back).
"""

from django.db import connection, transaction
from django.db.models import BigIntegerField, Func, QuerySet
from django.utils import timezone

from deployments.models import LogLine, LogSearch, LogSearchWatermark

# pg_trgm finds no trigram in a shorter pattern: the index could only be read whole, so such a search reads LogLine.
MIN_INDEXED_LENGTH = 3
BATCH = 10_000
# The one row of LogSearchWatermark (migration 0025's berth_log_search_watermark() reads it too).
STATE = 1


def indexed(vendor: str, q: str) -> bool:
    """Whether a search for `q` goes through LogSearch (PostgreSQL, `q` of 3 characters or more)."""
    return vendor == "postgresql" and len(q) >= MIN_INDEXED_LENGTH


def matching(lines: QuerySet, *, app_id: int, q: str, order: str, limit: int) -> QuerySet:
    """Return `lines` (one app's LogLine rows, filtered) that hold `q`, ordered by `order`, at most `limit`.

    One statement: the indexed lines (LogSearch's trigram index, then LogLine by primary key) UNION ALL the tail
    (LogLine's primary key above the watermark, then LIKE), each ordered and cut to `limit`, then both together.
    """
    # The watermark through a STABLE function (migration 0025): the planner evaluates it while planning, so it knows
    # the tail is a short range of LogLine's primary key.
    watermark = Func(function="berth_log_search_watermark", template="%(function)s()", output_field=BigIntegerField())
    found = LogSearch.objects.filter(app_id=app_id, line__contains=q).values("line_id")
    through_index = lines.filter(id__in=found).order_by(order)[:limit]
    tail = lines.filter(id__gt=watermark, line__contains=q).order_by(order)[:limit]
    return through_index.union(tail, all=True).order_by(order)[:limit]


def log_search_index(*, batch: int = BATCH, max_batches: int | None = None) -> int:
    """Copy the lines that are safe to index into LogSearch, `batch` lines a transaction; return how many it copied.

    Idempotent, and safe to run in several processes at once (each batch locks the watermark row). A pass killed
    between batches keeps what it committed; one killed within a batch keeps nothing of it. `max_batches` stops
    after that many (the next pass goes on).
    """
    if connection.vendor != "postgresql":
        return 0
    safe = _advance_horizon()
    copied = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            state = _locked_state()
            if state.watermark >= safe:
                break
            with connection.cursor() as cursor:
                # The next `batch` lines in id order (ids have gaps: aborted transactions, deleted lines).
                cursor.execute(
                    f"WITH batch AS (SELECT id, app_id, line FROM {LogLine._meta.db_table} "  # noqa: S608 - fixed names
                    "WHERE id > %s AND id <= %s ORDER BY id LIMIT %s), "
                    f"copied AS (INSERT INTO {LogSearch._meta.db_table} (line_id, app_id, line) "
                    "SELECT id, app_id, line FROM batch ON CONFLICT (line_id) DO NOTHING RETURNING 1) "
                    "SELECT (SELECT count(*) FROM batch), (SELECT max(id) FROM batch), (SELECT count(*) FROM copied)",
                    [state.watermark, safe, batch],
                )
                read, last, inserted = cursor.fetchone()
            copied += inserted
            state.watermark = last if read == batch else safe
            state.updated_at = timezone.now()
            state.save(update_fields=["watermark", "updated_at"])
        batches += 1
    return copied


def log_search_catch_up() -> int:
    """Index every line stored so far (a seeded data set, a benchmark): pass after pass until one copies nothing."""
    total = log_search_index()
    while copied := log_search_index():
        total += copied
    return total


def _locked_state() -> LogSearchWatermark:
    """The watermark row, locked until the end of the transaction (made on the first pass)."""
    state, _ = LogSearchWatermark.objects.select_for_update().get_or_create(pk=STATE)
    return state


@transaction.atomic
def _advance_horizon() -> int:
    """Return the id up to which every line is committed (or never will be); note the horizon for the next pass."""
    state = _locked_state()
    with connection.cursor() as cursor:
        # The largest id this statement's snapshot sees, and the transactions (virtual ids: a transaction holds the
        # lock on its own until it ends) then holding the table open for writing, but this one. pg_locks lists every
        # database's locks, and a relation's oid is only unique within its database.
        cursor.execute(
            f"SELECT (SELECT max(id) FROM {LogLine._meta.db_table}), "  # noqa: S608 - fixed name
            "(SELECT coalesce(string_agg(virtualtransaction, ','), '') FROM pg_locks "
            "WHERE locktype = 'relation' AND relation = %s::regclass AND mode = 'RowExclusiveLock' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND pid <> pg_backend_pid())",
            [LogLine._meta.db_table],
        )
        newest, writers = cursor.fetchone()
        ended = True
        if state.horizon_writers:
            cursor.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid = ANY(%s))",
                [state.horizon_writers.split(",")],
            )
            ended = cursor.fetchone()[0]
    safe = state.watermark
    if state.horizon is not None and ended:
        safe = max(safe, state.horizon)
    if ended:
        # A horizon whose writers are still running is kept, not replaced by a later one: it is nearer.
        state.horizon, state.horizon_writers = newest if newest is not None else state.watermark, writers
        state.updated_at = timezone.now()
        state.save(update_fields=["horizon", "horizon_writers", "updated_at"])
    return safe


def log_search_forget(lines: QuerySet) -> None:
    """Delete the LogSearch rows of `lines` (LogLine rows about to be deleted), holding the indexer off meanwhile.

    Call it inside the transaction that deletes the lines: with the watermark row locked, no batch can copy one of
    them between the two deletes and leave a row behind.
    """
    if connection.vendor != "postgresql":
        return
    _locked_state()
    LogSearch.objects.filter(line_id__in=lines.values("id")).delete()
