"""manage.py seed --size small|large: fill an empty database with a data set of a known size (benchmarks, tests).

The large set is issue 17's: 1,000 tenants, 10,000 apps (one tenant holds 1,000), 100,000 releases (one app holds
5,000), 1,000,000 log lines on that app, 200,000 audit events, 1,000 builds and deployments and 2,003 container rows
(3 live) on that app. The small set has a hundredth of the rows but the same page sizes: every list the benchmark
reads holds at least a page (50 rows) in both. Rows go in with bulk_create, log lines with COPY on PostgreSQL, where
the search indexer then copies them into the search table (logs/search.py).

`seed(size)` is what the command runs; tests call it with `Size.rows(n)` (n rows in every list of the main tenant).
"""

import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from deployments import crypto
from deployments.logs.records import format_timestamp_us, make_cursor
from deployments.logs.search import log_search_catch_up
from deployments.logs.sinks import DatabaseSink
from deployments.models import (
    App,
    Build,
    BuildStatus,
    ConfigVar,
    Container,
    ContainerState,
    Delivery,
    DeliveryStatus,
    Deployment,
    DeploymentStatus,
    DockerHost,
    Domain,
    Drain,
    Formation,
    LogLine,
    Release,
    ReleaseStatus,
    Run,
    RunStatus,
    SourceKind,
    Webhook,
)
from tenants.models import ApiToken, AuditEvent, Membership, Role, Tenant

MAIN_TENANT = "bench"
MAIN_APP = "big"
OWNER = "bench-owner"
STAFF = "bench-staff"
# An engine that never answers fast: the containers list then shows the live rows as "host does not answer".
UNREACHABLE_ENGINE = "unix:///run/berth-seed-no-engine.sock"
RARE_WORD = "panic"
BATCH = 5000


@dataclass(frozen=True)
class Size:
    """How many rows of each kind; `main_*` are those of the main tenant or its main app."""

    tenants: int
    apps: int
    main_apps: int
    releases: int
    main_releases: int
    log_lines: int
    audit_events: int
    builds: int
    deployments: int
    live_containers: int
    exited_containers: int
    tokens: int
    hosts: int
    # Members, config vars, domains, drains, webhooks, deliveries, runs and the owner's own tokens.
    rows: int

    @classmethod
    def of_rows(cls, n: int) -> "Size":
        """Exactly `n` rows in every list of the main tenant and app (query-count tests: 1 and 50)."""
        return cls(
            tenants=n,
            apps=n,
            main_apps=n,
            releases=n,
            main_releases=n,
            log_lines=n,
            audit_events=2 * n,
            builds=n,
            deployments=n,
            live_containers=n,
            exited_containers=n,
            tokens=n,
            hosts=n,
            rows=n,
        )


SIZES = {
    "large": Size(
        tenants=1000,
        apps=10_000,
        main_apps=1000,
        releases=100_000,
        main_releases=5000,
        log_lines=1_000_000,
        audit_events=200_000,
        builds=1000,
        deployments=1000,
        live_containers=3,
        exited_containers=2000,
        tokens=5000,
        hosts=3,
        rows=50,
    ),
}
SIZES["small"] = replace(
    SIZES["large"],
    tenants=10,
    apps=100,
    main_apps=50,
    releases=1000,
    main_releases=50,
    log_lines=10_000,
    audit_events=2000,
    builds=50,
    deployments=50,
    exited_containers=20,
    tokens=50,
)


@dataclass(frozen=True)
class Seeded:
    tenant: Tenant
    app: App
    owner: object
    staff: object


def _formation() -> dict:
    return {
        "web": {
            "quantity": 2,
            "memory_mb": 128,
            "cpu": 0.5,
            "command": "",
            "healthcheck_kind": "http",
            "healthcheck": "/",
            "healthcheck_timeout": 30,
        }
    }


def _log_line(i: int) -> str:
    if i % 1000 == 999:
        return f"{RARE_WORD}: worker {i % 7} lost its lease after {i % 300} s"
    method = ("GET", "POST", "GET", "PUT")[i % 4]
    return (
        f"{method} /api/items/{i % 997} {(200, 200, 201, 404, 500)[i % 5]} {i % 250}ms req={i * 2654435761 % 2**32:08x}"
    )


def _users(names: list[str]) -> list:
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=name) for name in names], batch_size=BATCH)
    by_name = {u.username: u for u in user_model.objects.filter(username__in=names)}
    return [by_name[name] for name in names]


def _tenants(size: Size):
    owner, staff = _users([OWNER, STAFF])
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    slugs = [MAIN_TENANT] + [f"t{i:04d}" for i in range(1, size.tenants)]
    Tenant.objects.bulk_create([Tenant(slug=s, name=s.title(), max_apps=size.main_apps + 10) for s in slugs])
    tenants = list(Tenant.objects.filter(slug__in=slugs).order_by("slug"))
    main = next(t for t in tenants if t.slug == MAIN_TENANT)
    others = [t for t in tenants if t is not main]
    owners = _users([f"owner-{t.slug}" for t in others])
    members = _users([f"member-{i:03d}" for i in range(1, size.rows)])
    memberships = [Membership(tenant=main, user=owner, role=Role.OWNER)]
    memberships += [Membership(tenant=main, user=u, role=Role.DEVELOPER) for u in members]
    memberships += [Membership(tenant=t, user=u, role=Role.OWNER) for t, u in zip(others, owners, strict=True)]
    # The owner is a viewer of a page of other tenants too (its tenant list); a customer's teams are a handful, not
    # the installation's thousand.
    memberships += [Membership(tenant=t, user=owner, role=Role.VIEWER) for t in others[: size.rows - 1]]
    Membership.objects.bulk_create(memberships, batch_size=BATCH)
    return main, others, owner, staff, owners + members


def _apps(size: Size, main: Tenant, others: list[Tenant]) -> tuple[App, list[App]]:
    rows = [App(tenant=main, slug=MAIN_APP)] + [App(tenant=main, slug=f"app-{i:04d}") for i in range(1, size.main_apps)]
    spread = size.apps - size.main_apps
    rows += [App(tenant=others[i % len(others)], slug=f"app-{i:05d}") for i in range(spread)] if others else []
    App.objects.bulk_create(rows, batch_size=BATCH)
    apps = list(App.objects.order_by("pk"))
    Formation.objects.bulk_create([Formation(app=a, process_type="web", quantity=2) for a in apps], batch_size=BATCH)
    main_app = next(a for a in apps if a.tenant_id == main.pk and a.slug == MAIN_APP)
    return main_app, apps


def _builds(size: Size, app: App, users: list) -> list[Build]:
    now = timezone.now()
    rows = []
    for n in range(1, size.builds + 1):
        cancelled = n % 10 == 0
        rows.append(
            Build(
                app=app,
                number=n,
                source_kind=SourceKind.IMAGE,
                source={"image": f"registry.test/big:{n}"},
                status=BuildStatus.CANCELLED if cancelled else BuildStatus.SUCCEEDED,
                log=f"step 1/3\nstep 2/3\nstep 3/3 build {n}\n" * 20,
                image=f"registry.test/big:{n}",
                process_types={"web": ""},
                created_by=users[n % len(users)],
                cancelled_by=users[(n * 7) % len(users)] if cancelled else None,
                created_at=now - timedelta(minutes=size.builds - n),
            )
        )
    Build.objects.bulk_create(rows, batch_size=BATCH)
    return list(Build.objects.filter(app=app).order_by("number"))


def _releases(size: Size, main_app: App, apps: list[App], builds: list[Build], owner) -> None:
    config = {f"KEY_{k}": {"value": f"value-{k}", "secret": False} for k in range(5)}
    formation = _formation()
    now = timezone.now()

    def release(app, version, build=None):
        return Release(
            app=app,
            version=version,
            build=build,
            config=config,
            formation=formation,
            summary=f"Deploy v{version}",
            status=ReleaseStatus.SUCCEEDED,
            created_by=owner,
            created_at=now - timedelta(minutes=size.main_releases - version),
        )

    batch = [
        release(main_app, v, builds[v % len(builds)] if builds else None) for v in range(1, size.main_releases + 1)
    ]
    rest = [a for a in apps if a.pk != main_app.pk]
    versions = dict.fromkeys((a.pk for a in rest), 0)
    for i in range(size.releases - size.main_releases):
        if not rest:
            break
        app = rest[i % len(rest)]
        versions[app.pk] += 1
        batch.append(release(app, versions[app.pk]))
        if len(batch) >= BATCH:
            Release.objects.bulk_create(batch)
            batch = []
    Release.objects.bulk_create(batch)
    # The pointer a rollout sets: here the newest release of each app, in one statement.
    newest = Release.objects.filter(app=OuterRef("pk")).order_by("-version").values("pk")[:1]
    App.objects.update(current_release=Subquery(newest))


def _rollouts(size: Size, app: App, owner) -> None:
    releases = list(Release.objects.filter(app=app).order_by("-version")[: max(size.deployments, 1)])
    Deployment.objects.bulk_create(
        [
            Deployment(
                app=app,
                release=releases[i % len(releases)],
                status=DeploymentStatus.SUCCEEDED,
                progress=100,
                steps=[{"name": "start", "started_at": timezone.now().isoformat()}],
            )
            for i in range(size.deployments)
        ],
        batch_size=BATCH,
    )
    hosts = [
        DockerHost(name=f"seed-{i}", engine_url=UNREACHABLE_ENGINE, address="127.0.0.1") for i in range(size.hosts)
    ]
    DockerHost.objects.bulk_create(hosts)
    hosts = list(DockerHost.objects.order_by("name"))
    current = releases[0]
    containers = []
    for i in range(size.live_containers + size.exited_containers):
        live = i < size.live_containers
        containers.append(
            Container(
                host=hosts[i % len(hosts)],
                app=app,
                release=current if live else releases[i % len(releases)],
                process_type="web",
                index=i + 1,
                engine_id=secrets.token_hex(32),
                name=f"{MAIN_TENANT}-{MAIN_APP}-web-{i + 1}",
                host_port=20000 + i if live else None,
                state=ContainerState.RUNNING if live else ContainerState.EXITED,
                routed=live,
            )
        )
    Container.objects.bulk_create(containers, batch_size=BATCH)
    Run.objects.bulk_create(
        [
            Run(
                tenant=app.tenant,
                app=app,
                release=current,
                number=n,
                command=["sh", "-c", "true"],
                status=RunStatus.SUCCEEDED,
                exit_code=0,
                created_by=owner,
            )
            for n in range(1, size.rows + 1)
        ]
    )


def _tenant_rows(size: Size, main: Tenant, app: App, owner, users: list) -> None:
    ConfigVar.objects.bulk_create([ConfigVar(app=app, key=f"KEY_{k}", value=f"v{k}") for k in range(size.rows)])
    Domain.objects.bulk_create(
        [Domain(app=app, hostname=f"d{k}.{MAIN_APP}.{MAIN_TENANT}.example") for k in range(size.rows)]
    )
    Drain.objects.bulk_create(
        [Drain(tenant=main, app=app, url=f"syslog://logs{k}.example:514", created_by=owner) for k in range(size.rows)]
    )
    secret = crypto.encrypt("whsec-seed")
    Webhook.objects.bulk_create(
        [
            Webhook(tenant=main, url=f"https://hooks{k}.example/berth", events=["release.succeeded"], secret=secret)
            for k in range(size.rows)
        ]
    )
    hook = Webhook.objects.filter(tenant=main).order_by("pk").first()
    Delivery.objects.bulk_create(
        [
            Delivery(
                tenant=main,
                webhook=hook,
                event="release.succeeded",
                payload={"release": k},
                status=DeliveryStatus.SUCCEEDED,
                response_code=200,
            )
            for k in range(size.rows)
        ]
    )
    # The owner's own tokens (its list), then the rest spread over the other users: what the prefix lookup searches.
    holders = [owner] * size.rows + [users[i % len(users)] for i in range(max(size.tokens - size.rows, 0))]
    ApiToken.objects.bulk_create(
        [
            ApiToken(user=u, name="seed", digest=secrets.token_hex(32), prefix=secrets.token_hex(4), scopes=["read"])
            for u in holders
        ],
        batch_size=BATCH,
    )


def _audit(size: Size, main: Tenant, others: list[Tenant], owner) -> None:
    """Half the events are the main tenant's, the rest spread over the others."""
    now = timezone.now()
    batch = []
    for i in range(size.audit_events):
        tenant = main if i % 2 == 0 or not others else others[i % len(others)]
        batch.append(
            AuditEvent(
                tenant=tenant,
                tenant_slug=tenant.slug,
                actor=owner,
                actor_name=OWNER,
                action="config.set",
                target_type="app",
                target_id=str(i),
                target_repr=f"{tenant.slug}/{MAIN_APP}",
                diff={"KEY": "set"},
                created_at=now - timedelta(seconds=size.audit_events - i),
            )
        )
        if len(batch) >= BATCH:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)


# The columns the database sink writes, in its order: the seed's COPY fills the same rows.
LOG_COLUMNS = DatabaseSink.COLUMNS


def _log_rows(size: Size, app: App):
    """The app's lines, 86 ms apart over the last day (1,000,000 lines span 24 hours), from 3 containers."""
    step_ns = 86_400_000_000_000 // max(size.log_lines, 1)
    start_ns = time.time_ns() - 86_400_000_000_000 - 3_600_000_000_000
    containers = [secrets.token_hex(32) for _ in range(3)]
    for i in range(size.log_lines):
        ns = start_ns + i * step_ns
        container = containers[i % 3]
        yield (
            app.tenant_id,
            app.pk,
            make_cursor(ns, container, "stdout", 0),
            1 + i * size.main_releases // max(size.log_lines, 1),
            "web",
            i % 3 + 1,
            container,
            "stdout",
            format_timestamp_us(ns),
            _log_line(i),
        )


def _logs(size: Size, app: App) -> None:
    if connection.vendor != "postgresql":
        # What the embedded default holds is bounded by its per-app limit: plain inserts are quick enough there.
        fields = [f.attname for f in LogLine._meta.concrete_fields if f.attname != "id"]
        batch = []
        for row in _log_rows(size, app):
            values = dict(zip(LOG_COLUMNS, row, strict=True))
            values["timestamp"] = datetime.fromisoformat(values["timestamp"].replace("Z", "+00:00"))
            batch.append(LogLine(**{name: values[name] for name in fields}))
        LogLine.objects.bulk_create(batch, batch_size=BATCH)
        return
    table = connection.ops.quote_name(LogLine._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in LOG_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in _log_rows(size, app):
            copy.write_row(row)


def seed(size: Size, *, progress=None) -> Seeded:
    """Fill the database with `size`; refuse when Berth already holds a tenant (seeding adds to nothing)."""
    if Tenant.objects.exists():
        raise CommandError("The database already holds tenants: seed an empty one (manage.py migrate on a new one).")
    say = progress or (lambda message: None)
    started = time.monotonic()
    with transaction.atomic():
        main, others, owner, staff, users = _tenants(size)
        say(f"tenants and members: {time.monotonic() - started:.1f} s")
        app, apps = _apps(size, main, others)
        say(f"apps: {time.monotonic() - started:.1f} s")
        builds = _builds(size, app, users or [owner])
        _releases(size, app, apps, builds, owner)
        say(f"builds and releases: {time.monotonic() - started:.1f} s")
        _rollouts(size, app, owner)
        _tenant_rows(size, main, app, owner, users or [owner])
        _audit(size, main, others, owner)
        say(f"deployments, containers, tokens, audit: {time.monotonic() - started:.1f} s")
        _logs(size, app)
        say(f"log lines: {time.monotonic() - started:.1f} s")
    if connection.vendor == "postgresql":
        # What the indexer would have done behind the collector: the seeded history is searchable by trigram.
        indexed = log_search_catch_up()
        say(f"search index ({indexed} lines): {time.monotonic() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    app.refresh_from_db()
    return Seeded(tenant=main, app=app, owner=owner, staff=staff)


class Command(BaseCommand):
    help = "Fill an empty database with the small or the large benchmark data set."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), required=True)

    def handle(self, *args, size, **options):
        started = time.monotonic()
        seeded = seed(SIZES[size], progress=lambda message: self.stderr.write(message))
        self.stdout.write(
            f"Seeded the {size} data set in {time.monotonic() - started:.0f} s: tenant {seeded.tenant.slug}, "
            f"app {seeded.app.slug}, owner {seeded.owner.username}, staff {seeded.staff.username}."
        )
