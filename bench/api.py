"""Benchmark: the API and the main pages on the small and the large data set, in the same run.

Both databases are filled once by `manage.py seed --size small|large` (bench/README.md) and reused. Every endpoint
is asked through Django's test client with a real bearer token (pages with a logged-in session), first on the small
set then on the large one: queries of one request, p50 and p95 of `--requests` timed requests after 2 untimed ones,
the large/small ratio of the p95, and the median time a request spent in its SQL (the part that depends on the
data; the rest is Python and, on a loaded machine, waiting for a core). Then the collector's write rate: COPY
batches of 2,000 lines, as the database sink writes them, into two scratch copies of the log table preloaded with the
same lines, one with the trigram index and one without, batches alternating between them.

    .venv/bin/python bench/api.py --small postgres://postgres@127.0.0.1:5432/berth_bench_small \\
        --large postgres://postgres@127.0.0.1:5432/berth_bench_large [--requests 40] [--explain]

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


def writer_rate(url: str, *, preload: int, batches: int, index_with: str = "") -> dict[str, float]:
    """Lines/s of the database sink's COPY into a copy of the log table with and without the trigram index."""
    from django.db import connection, transaction

    from deployments.logs.records import LogRecord
    from deployments.logs.sinks import DatabaseSink
    from deployments.models import LogLine

    use_database(url)
    sink = DatabaseSink()
    source = LogLine._meta.db_table
    columns = ", ".join(connection.ops.quote_name(c) for c in DatabaseSink.COLUMNS)
    tables = {"with trigram index": "bench_logline_trgm", "without": "bench_logline_plain"}
    with connection.cursor() as cursor:
        for name, table in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (LIKE {source} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
            )
            cursor.execute(f"CREATE UNIQUE INDEX {table}_cursor ON {table} (app_id, cursor)")
            cursor.execute(f"CREATE INDEX {table}_ts ON {table} (app_id, timestamp)")
            if name != "without":
                # The index's storage parameters as the migration gives them (or as --index-with says).
                cursor.execute(f"CREATE INDEX {table}_line ON {table} USING gin (line gin_trgm_ops) {index_with}")
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source} ORDER BY id LIMIT %s",  # noqa: S608
                [preload],
            )
        cursor.execute("ANALYZE")
    app_id = LogLine.objects.values_list("app_id", flat=True).first()
    tenant_id = LogLine.objects.values_list("tenant_id", flat=True).first()
    container = "feed" * 16
    texts = [row[0] for row in LogLine.objects.order_by("id").values_list("line")[: sink.max_batch]]
    elapsed = dict.fromkeys(tables, 0.0)
    written = dict.fromkeys(tables, 0)
    start_ns = time.time_ns()
    for batch in range(batches):
        for name, table in tables.items():
            records = [
                LogRecord(
                    tenant_id=tenant_id,
                    tenant="bench",
                    app_id=app_id,
                    app="big",
                    release=1,
                    process="web",
                    index=1,
                    container=container,
                    stream="stdout",
                    timestamp_ns=start_ns + (batch * sink.max_batch + i) * 1000,
                    rank=0,
                    line=text,
                )
                for i, text in enumerate(texts)
            ]
            rows = [
                (r.tenant_id, r.app_id, r.cursor, r.release, r.process, r.index, r.container, r.stream, _us(r), r.line)
                for r in records
            ]
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                sink._copy(cursor, rows, table=table, columns=columns)
            elapsed[name] += time.perf_counter() - started
            written[name] += len(rows)
    with connection.cursor() as cursor:
        for table in tables.values():
            cursor.execute(f"DROP TABLE {table}")
    return {name: written[name] / elapsed[name] for name in tables}


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
    parser.add_argument("--index-with", default="", help='e.g. "WITH (fastupdate = off)" for the scratch index')
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.large

    import django

    django.setup()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
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
    print(f"load average after the requests: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.explain:
        a = f"/api/v1/tenants/{large.tenant}/apps/{large.app}"
        for path, table in (
            (f"{a}/logs/?q=panic", "deployments_logline"),
            (f"{a}/logs/?q=nosuchword", "deployments_logline"),
            (f"{a}/logs/?since={large.since}&until={large.until}", "deployments_logline"),
            (f"{a}/", "deployments_app"),
        ):
            print("\n" + explain(large, path, table))
    if args.writer_batches:
        rates = writer_rate(
            args.large, preload=args.writer_preload, batches=args.writer_batches, index_with=args.index_with
        )
        base = rates["without"]
        for name, rate in rates.items():
            print(f"writer {name}: {rate:,.0f} lines/s ({rate / base:.0%} of without)")
        print(f"load average after the writer: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
