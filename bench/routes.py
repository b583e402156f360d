"""The switch's input: collecting the routes from the database, for every app and for the one app a switch changed.

    DATABASE_URL=postgres://... .venv/bin/python bench/routes.py [--apps 10000] [--rounds 5]

Loads --apps apps (100 per tenant), each released with one routed running web container, into the database of
DATABASE_URL (migrated first), then times `routes_collect()` (every route: what a router applies at its start and its
periodic full sync) and the partial collect a switch makes (`routes_of({app})` plus finding the app in the routes
version's changes), median and maximum of --rounds. Everything it created is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402  (settings come from the environment)

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from deployments.models import App, Build, Container, ContainerState, DockerHost, Release  # noqa: E402
from deployments.services.routes import _changed_between, routes_collect, routes_of, routing_bump  # noqa: E402
from tenants.models import Tenant  # noqa: E402


def load(apps: int, tag: str) -> list[int]:
    host = DockerHost.objects.create(name=f"bench-{tag}", engine_url="unix:///var/run/docker.sock", address="127.0.0.1")
    tenants = Tenant.objects.bulk_create(
        [Tenant(slug=f"b{tag}-{n}", name=f"bench {n}") for n in range((apps + 99) // 100)]
    )
    rows = App.objects.bulk_create([App(tenant=tenants[n // 100], slug=f"a{n}") for n in range(apps)])
    builds = Build.objects.bulk_create(
        [
            Build(app=app, number=1, source={"image": "x"}, image="registry.test/x:1", process_types={"web": "x"})
            for app in rows
        ]
    )
    releases = Release.objects.bulk_create(
        [
            Release(app=app, version=1, build=build, config={}, formation={}, summary="bench")
            for app, build in zip(rows, builds, strict=True)
        ]
    )
    for app, release in zip(rows, releases, strict=True):
        app.current_release = release
    App.objects.bulk_update(rows, ["current_release"], batch_size=2000)
    Container.objects.bulk_create(
        [
            Container(host=host, app=app, release=release, index=1, name=f"bench-{tag}-{n}",
                      host_port=20000 + n % 40000, process_type="web", state=ContainerState.RUNNING, routed=True)
            for n, (app, release) in enumerate(zip(rows, releases, strict=True))
        ],
        batch_size=2000,
    )  # fmt: skip
    return [app.pk for app in rows]


def timed(call, rounds: int) -> tuple[float, float]:
    took = []
    for _ in range(rounds):
        begin = time.perf_counter()
        call()
        took.append((time.perf_counter() - begin) * 1000)
    return statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tag = secrets.token_hex(3)
    with transaction.atomic():
        ids = load(args.apps, tag)
    try:
        count = len(routes_collect())
        full = timed(routes_collect, args.rounds)
        app = ids[len(ids) // 2]

        def switch_input():
            version = routing_bump(app_ids=[app])
            routes_of(_changed_between(version - 1, version))

        partial = timed(switch_input, args.rounds * 4)
        print("| apps (routes) | every route: median / max | one app's switch: median / max |")
        print("|---:|---:|---:|")
        print(
            f"| {args.apps:,} ({count:,}) | {full[0]:.1f} / {full[1]:.1f} ms | {partial[0]:.1f} / {partial[1]:.1f} ms |"
        )
    finally:
        remove(tag)


def remove(tag: str) -> None:
    apps = App.objects.filter(tenant__slug__startswith=f"b{tag}-")
    Container.objects.filter(app__in=apps).delete()
    apps.update(current_release=None)
    Release.objects.filter(app__in=apps).delete()
    Build.objects.filter(app__in=apps).delete()
    Tenant.objects.filter(slug__startswith=f"b{tag}-").delete()
    DockerHost.objects.filter(name=f"bench-{tag}").delete()


if __name__ == "__main__":
    main()
