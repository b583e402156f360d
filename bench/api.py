"""Benchmark: the API and the main pages on the small and the large data set, in the same run.

Both databases are filled once by `manage.py seed --size small|large` (bench/README.md) and reused. Every endpoint
is asked through Django's test client with a real bearer token (pages with a logged-in session), first on the small
set then on the large one: queries of one request, p50 and p95 of `--requests` timed requests after 2 untimed ones,
the large/small ratio of the p95, and the median time a request spent in its SQL (the part that depends on the
data; the rest is Python and, on a loaded machine, waiting for a core).

Then, on the large set, the collector's write rate: batches of 2,000 lines through DatabaseSink.write into LogLine as
the installation has it, against the same COPY into two scratch copies of the table preloaded with 200,000 of its
lines, one with no trigram index at all and one with the trigram index LogLine had before the search table, the
batches alternating between the three. Then the search indexer's rate on the lines just written, then log search with
an unindexed tail (`--tail-seconds` of lines at the writer's rate, or at `--tail-rate`), the indexer's rate on that
tail, and log search again with it indexed. The benchmark's lines are deleted at the end.

    .venv/bin/python bench/api.py --small postgres://postgres@127.0.0.1:5432/berth_bench_small \\
        --large postgres://postgres@127.0.0.1:5432/berth_bench_large [--requests 40] [--explain] [--only NAME]

`--only "q="` measures only the log searches before the writer; `--writer-batches 0` skips the writer.

Targets (issue 17): p95 under 50 ms for every endpoint but log search (under 100 ms), every ratio under 2, the
writer's rate with the index within 20 % of without it.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# The benchmark asks one token thousands of times a minute: the API's per-user rate would answer 429 mid-run.
os.environ.setdefault("BERTH_API_RATE_USER", "1000000/min")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def use_database(url: str) -> None:
    """Point the default connection at another database of the same server."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = urlparse(url).path.lstrip("/")


class DataSet:
    """What the requests of one data set need: clients, ids, a log window."""

    def __init__(self, name: str, url: str):
        from django.test import Client
        from rest_framework.test import APIClient

        from deployments.management.commands.seed import MAIN_APP, MAIN_TENANT, OWNER, STAFF
        from deployments.models import App, Build, Deployment, LogLine, Run, Webhook
        from tenants.models import ApiToken
        from tenants.services import token_create

        self.name, self.url = name, url
        use_database(url)
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        owner, staff = users.get(username=OWNER), users.get(username=STAFF)
        ApiToken.objects.filter(name="bench-api").delete()
        self.api, self.staff_api = APIClient(), APIClient()
        for client, user in ((self.api, owner), (self.staff_api, staff)):
            _token, plaintext = token_create(user=user, scopes=["read", "write", "deploy", "admin"], name="bench-api")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        self.page, self.staff_page = Client(), Client()
        self.page.force_login(owner)
        self.staff_page.force_login(staff)
        app = App.objects.get(tenant__slug=MAIN_TENANT, slug=MAIN_APP)
        self.tenant, self.app = MAIN_TENANT, MAIN_APP
        self.build = Build.objects.filter(app=app).order_by("-number").values_list("number", flat=True)[10]
        self.version = app.current_release.version - 10
        self.deployment = Deployment.objects.filter(app=app).order_by("-id").values_list("id", flat=True)[10]
        self.run = Run.objects.filter(app=app).order_by("-number").values_list("number", flat=True).first()
        self.webhook = Webhook.objects.filter(tenant=app.tenant).order_by("pk").values_list("pk", flat=True).first()
        cursors = LogLine.objects.filter(app=app).order_by("cursor").values_list("cursor", flat=True)
        first, last = int(cursors.first()[:19]), int(cursors.last()[:19])
        middle = (first + last) // 2
        # Ten minutes in the middle of the day of lines.
        self.since = _rfc3339(middle)
        self.until = _rfc3339(middle + 600 * 10**9)


def _rfc3339(ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def endpoints(d: DataSet) -> list[tuple[str, str, str]]:
    """(name, client attribute, path) of everything measured."""
    t = f"/api/v1/tenants/{d.tenant}"
    a = f"{t}/apps/{d.app}"
    ui = f"/t/{d.tenant}"
    return [
        ("GET tenants/", "api", "/api/v1/tenants/"),
        ("GET tenants/{t}/", "api", f"{t}/"),
        ("GET members/", "api", f"{t}/members/"),
        ("GET tokens/", "api", "/api/v1/tokens/"),
        ("GET audit/", "api", f"{t}/audit/"),
        ("GET apps/", "api", f"{t}/apps/"),
        ("GET apps/{a}/", "api", f"{a}/"),
        ("GET config/", "api", f"{a}/config/"),
        ("GET formation/", "api", f"{a}/formation/"),
        ("GET router/", "api", f"{a}/router/"),
        ("GET builds/", "api", f"{a}/builds/"),
        ("GET builds/{n}/", "api", f"{a}/builds/{d.build}/"),
        ("GET releases/", "api", f"{a}/releases/"),
        ("GET releases/{v}/", "api", f"{a}/releases/{d.version}/"),
        ("GET deployments/", "api", f"{a}/deployments/"),
        ("GET deployments/{id}/", "api", f"{a}/deployments/{d.deployment}/"),
        ("GET containers/", "api", f"{a}/containers/"),
        ("GET domains/", "api", f"{a}/domains/"),
        ("GET drains/", "api", f"{a}/drains/"),
        ("GET runs/", "api", f"{a}/runs/"),
        ("GET runs/{n}/", "api", f"{a}/runs/{d.run}/"),
        ("GET webhooks/", "api", f"{t}/webhooks/"),
        ("GET webhooks/{id}/", "api", f"{t}/webhooks/{d.webhook}/"),
        ("GET deliveries/", "api", f"{t}/webhooks/{d.webhook}/deliveries/"),
        ("GET logs/ (newest)", "api", f"{a}/logs/"),
        ("GET logs/?since&until", "api", f"{a}/logs/?since={d.since}&until={d.until}"),
        ("GET logs/?q=panic", "api", f"{a}/logs/?q=panic"),
        ("GET logs/?q=GET", "api", f"{a}/logs/?q=GET"),
        ("GET logs/?q=nosuchword", "api", f"{a}/logs/?q=nosuchword"),
        ("GET hosts/ (staff)", "staff_api", "/api/v1/hosts/"),
        ("GET hosts/{name}/ (staff)", "staff_api", "/api/v1/hosts/seed-0/"),
        ("page /", "page", "/"),
        ("page /t/{t}/", "page", f"{ui}/"),
        ("page app", "page", f"{ui}/apps/{d.app}/"),
        ("page app settings", "page", f"{ui}/apps/{d.app}/settings/"),
        ("page app logs", "page", f"{ui}/apps/{d.app}/logs/"),
        ("page members", "page", f"{ui}/members/"),
        ("page audit", "page", f"{ui}/audit/"),
        ("page tokens", "page", "/account/tokens/"),
        ("page console hosts", "staff_page", "/console/hosts/"),
    ]


def measure(d: DataSet, client_name: str, path: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = getattr(d, client_name)
    for _ in range(2):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{d.name} {path}: {response.status_code} {response.content[:300]!r}")
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    # Counted now: the next request empties the connection's query log the context reads from.
    count = len(queries)
    times, sql = [], []
    spent = [0.0]

    def timed(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            spent[0] += time.perf_counter() - started

    with connection.execute_wrapper(timed):
        for _ in range(requests):
            spent[0] = 0.0
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            sql.append(spent[0] * 1000)
    return {
        "queries": count,
        "p50": statistics.median(times),
        "p95": percentile(times, 0.95),
        "sql": statistics.median(sql),
    }


def explain(d: DataSet, path: str, table: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the request's query on `table`, as the request sent it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    use_database(d.url)
    with CaptureQueriesContext(connection) as queries:
        d.api.get(path)
    sql = next(q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"{path}\n{sql}\n{plan}"


WRITER_CONTAINER = "feed" * 16
INSTALLED = "LogLine as installed"
WITHOUT = "scratch table, no trigram index at all"
BEFORE = "scratch table with LogLine's former trigram index"
SEARCHES = ("GET logs/?q=panic", "GET logs/?q=GET", "GET logs/?q=nosuchword")


def _bench_records(tenant_id: int, app_id: int, texts: list[str], first_ns: int) -> list:
    from deployments.logs.records import LogRecord

    return [
        LogRecord(
            tenant_id=tenant_id,
            tenant="bench",
            app_id=app_id,
            app="big",
            release=1,
            process="web",
            index=1,
            container=WRITER_CONTAINER,
            stream="stdout",
            timestamp_ns=first_ns + i * 1000,
            rank=0,
            line=text,
        )
        for i, text in enumerate(texts)
    ]


class Writer:
    """The database sink's writes on the large set: into LogLine as installed, and into scratch copies of the table."""

    def __init__(self, url: str, *, preload: int):
        from django.db import connection

        from deployments.logs.sinks import DatabaseSink
        from deployments.models import LogLine

        use_database(url)
        self.url = url
        self.sink = DatabaseSink()
        self.app_id, self.tenant_id = LogLine.objects.values_list("app_id", "tenant_id").first()
        self.texts = [row[0] for row in LogLine.objects.order_by("id").values_list("line")[: self.sink.max_batch]]
        self.next_ns = time.time_ns()
        self.columns = ", ".join(connection.ops.quote_name(c) for c in DatabaseSink.COLUMNS)
        source = self.installed = LogLine._meta.db_table
        # name: (table, whether it also has the trigram index LogLine had before the search table, migration 0016)
        scratch = {WITHOUT: ("bench_logline_plain", False), BEFORE: ("bench_logline_trgm", True)}
        self.scratch = {name: table for name, (table, _) in scratch.items()}
        with connection.cursor() as cursor:
            for table, trigram in scratch.values():
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                # LogLine's columns, constraints and every index it has (none of them a trigram index).
                cursor.execute(f"CREATE TABLE {table} (LIKE {source} INCLUDING ALL)")
                if trigram:
                    cursor.execute(f"CREATE INDEX {table}_line ON {table} USING gin (line gin_trgm_ops)")
                cursor.execute(
                    f"INSERT INTO {table} ({self.columns}) SELECT {self.columns} FROM {source} ORDER BY id LIMIT %s",  # noqa: S608
                    [preload],
                )
            cursor.execute("ANALYZE")

    def rows(self) -> list[tuple]:
        """The next batch, as DatabaseSink.write hands it to COPY."""
        records = _bench_records(self.tenant_id, self.app_id, self.texts, self.next_ns)
        self.next_ns += len(records) * 1000
        return [
            (r.tenant_id, r.app_id, r.cursor, r.release, r.process, r.index, r.container, r.stream, _us(r), r.line)
            for r in records
        ]

    def write(self, table: str) -> float:
        """Seconds of one batch written as DatabaseSink.write writes it on PostgreSQL, into `table`."""
        from django.db import connection, transaction

        rows = self.rows()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            self.sink._copy(cursor, rows, table=table, columns=self.columns)
        return time.perf_counter() - started

    def rates(self, batches: int) -> dict[str, float]:
        """Lines/s into each table, the batches alternating between them."""
        tables = {INSTALLED: self.installed, **self.scratch}
        elapsed = dict.fromkeys(tables, 0.0)
        for _ in range(batches):
            for name, table in tables.items():
                elapsed[name] += self.write(table)
        return {name: batches * self.sink.max_batch / seconds for name, seconds in elapsed.items()}

    def rate_beside_indexer(self, batches: int) -> tuple[float, int]:
        """Lines/s into LogLine while the indexer copies lines into LogSearch in a thread; and how many it copied."""
        import threading

        from django.db import connection

        from deployments.logs.search import log_search_index

        stop, copied = threading.Event(), [0]

        def index():
            use_database(self.url)
            try:
                while not stop.is_set():
                    done = log_search_index()
                    copied[0] += done
                    if not done:
                        stop.wait(0.1)
            finally:
                connection.close()

        indexer = threading.Thread(target=index)
        indexer.start()
        try:
            seconds = sum(self.write(self.installed) for _ in range(batches))
        finally:
            stop.set()
            indexer.join()
        return batches * self.sink.max_batch / seconds, copied[0]

    def tail(self, lines: int) -> float:
        """Write `lines` more lines into LogLine (nothing indexes them meanwhile); return lines/s."""
        written, seconds = 0, 0.0
        while written < lines:
            seconds += self.write(self.installed)
            written += self.sink.max_batch
        return written / seconds

    def close(self) -> int:
        """Drop the scratch tables, delete the benchmark's lines and their search rows, vacuum; return how many."""
        from django.db import connection, transaction

        from deployments.logs.search import log_search_forget
        from deployments.models import LogLine, LogSearch

        use_database(self.url)
        with connection.cursor() as cursor:
            for table in self.scratch.values():
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
        with transaction.atomic():
            lines = LogLine.objects.filter(app_id=self.app_id, container=WRITER_CONTAINER)
            log_search_forget(lines)
            deleted, _ = lines.delete()
        with connection.cursor() as cursor:
            # The next run's backward scans would otherwise walk a million dead index entries first.
            for model in (LogLine, LogSearch):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        return deleted


def _us(record) -> str:
    from deployments.logs.records import format_timestamp_us

    return format_timestamp_us(record.timestamp_ns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", required=True, help="URL of the database seeded with --size small")
    parser.add_argument("--large", required=True, help="URL of the database seeded with --size large")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", default="", help="measure only endpoints whose name holds this text")
    parser.add_argument("--explain", action="store_true", help="print the plans of log search, window, app lookup")
    parser.add_argument("--writer-batches", type=int, default=25, help="COPY batches of 2,000 lines per table")
    parser.add_argument("--writer-preload", type=int, default=200_000)
    parser.add_argument("--tail-seconds", type=float, default=10, help="the unindexed tail searched: seconds of lines")
    parser.add_argument("--tail-rate", type=float, default=0, help="lines/s of the tail (default: the writer's rate)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.large

    import django

    django.setup()

    print(f"load average before: {_load()}")
    small, large = DataSet("small", args.small), DataSet("large", args.large)
    print(
        "| endpoint | queries small | queries large | p50 small | p95 small | p50 large | p95 large | ratio p95 "
        "| SQL small | SQL large |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, client_name, small_path), (_, _, large_path) in zip(endpoints(small), endpoints(large), strict=True):
        if args.only and args.only not in name:
            continue
        use_database(args.small)
        s = measure(small, client_name, small_path, args.requests)
        use_database(args.large)
        g = measure(large, client_name, large_path, args.requests)
        print(
            f"| {name} | {s['queries']} | {g['queries']} | {s['p50']:.1f} | {s['p95']:.1f} | {g['p50']:.1f} | "
            f"{g['p95']:.1f} | {g['p95'] / s['p95']:.2f} | {s['sql']:.1f} | {g['sql']:.1f} |",
            flush=True,
        )
    print(f"load average after the requests: {_load()}")
    if args.explain:
        a = f"/api/v1/tenants/{large.tenant}/apps/{large.app}"
        for path, table in (
            (f"{a}/logs/?q=panic", "deployments_logline"),
            (f"{a}/logs/?q=GET", "deployments_logline"),
            (f"{a}/logs/?q=nosuchword", "deployments_logline"),
            (f"{a}/logs/?since={large.since}&until={large.until}", "deployments_logline"),
            (f"{a}/", "deployments_app"),
        ):
            print("\n" + explain(large, path, table))
    if args.writer_batches:
        writer_and_search(args, large)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _searches(d: DataSet, requests: int) -> None:
    for name, client_name, path in endpoints(d):
        if name in SEARCHES:
            g = measure(d, client_name, path, requests)
            print(f"  {name}: {g['queries']} queries, p50 {g['p50']:.1f}, p95 {g['p95']:.1f}, SQL {g['sql']:.1f} (ms)")


def writer_and_search(args, large: DataSet) -> None:
    """The writer's rates, then log search with an unindexed tail, the indexer's rate, and log search again."""
    from django.db import connection

    from deployments.logs.search import log_search_catch_up
    from deployments.models import LogLine, LogSearch, LogSearchWatermark

    writer = Writer(args.large, preload=args.writer_preload)
    try:
        rates = writer.rates(args.writer_batches)
        for name, rate in rates.items():
            print(f"writer, {name}: {rate:,.0f} lines/s ({rate / rates[WITHOUT]:.0%} of no trigram index)")
        print(f"load average after the writer: {_load()}")
        started = time.perf_counter()
        indexed = log_search_catch_up()
        seconds = time.perf_counter() - started
        print(f"indexer, the writer's lines: {indexed:,} lines in {seconds:.1f} s = {indexed / seconds:,.0f} lines/s")
        beside, copied = writer.rate_beside_indexer(args.writer_batches)
        print(
            f"writer, {INSTALLED} with the indexer running beside it: {beside:,.0f} lines/s "
            f"({beside / rates[WITHOUT]:.0%} of no trigram index; the indexer copied {copied:,} lines meanwhile)"
        )
        log_search_catch_up()
        if not args.tail_seconds:
            return
        tail_rate = args.tail_rate or rates[INSTALLED]
        lines = int(tail_rate * args.tail_seconds)
        written = writer.tail(lines)
        watermark = LogSearchWatermark.objects.get().watermark
        unindexed = LogLine.objects.filter(id__gt=watermark).count()
        print(
            f"tail: {unindexed:,} lines above the watermark ({args.tail_seconds:g} s at {tail_rate:,.0f} lines/s; "
            f"written at {written:,.0f} lines/s); {LogSearch.objects.count():,} lines indexed"
        )
        use_database(args.large)
        connection.cursor().execute("ANALYZE")
        print("log search with that tail unindexed:")
        _searches(large, args.requests)
        if args.explain:
            a = f"/api/v1/tenants/{large.tenant}/apps/{large.app}"
            print("\n" + explain(large, f"{a}/logs/?q=panic", "deployments_logline") + "\n")
        started = time.perf_counter()
        indexed = log_search_catch_up()
        seconds = time.perf_counter() - started
        print(f"indexer, the tail: {indexed:,} lines in {seconds:.1f} s = {indexed / seconds:,.0f} lines/s")
        print(f"load average after the indexer: {_load()}")
        print("log search with the tail indexed:")
        _searches(large, args.requests)
    finally:
        print(f"cleaned up: {writer.close():,} benchmark lines deleted; load average {_load()}")


if __name__ == "__main__":
    main()
