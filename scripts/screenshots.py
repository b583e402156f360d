#!/usr/bin/env python3
"""Take screenshots of the customer portal's main pages at 1280 and 390 px wide into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

It needs no dockerd: it seeds a throw-away SQLite database under a temporary BERTH_DATA_DIR with a team, an app, a
build, a rollout and log lines, serves the portal with daphne on a free loopback port (no background loops) and
drives Debian's chromium through Playwright. Rerun it after changing a page and commit the PNGs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "screenshots-only-7"  # noqa: S105 - the throw-away user of a temporary database
WIDTHS = (1280, 390)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed() -> dict:
    """Create what the pages show; return the paths to take, by name."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from deployments.logs.records import LogRecord
    from deployments.logs.sinks import DatabaseSink
    from deployments.models import (
        App,
        Build,
        BuildStatus,
        Delivery,
        Deployment,
        DeploymentStatus,
        Drain,
        Release,
        ReleaseStatus,
        SourceKind,
    )
    from deployments.services.apps import app_create
    from deployments.services.config import config_update
    from deployments.services.drains import drain_add
    from deployments.services.releases import release_deploy_build
    from deployments.services.webhooks import webhook_create
    from tenants.models import Role
    from tenants.services import member_add, tenant_create, token_create

    users = get_user_model().objects
    owner = users.create_user(username="olivia", password=PASSWORD)
    tenant = tenant_create(actor=owner, slug="acme", name="Acme Inc")
    for name, role in (("dana", Role.DEVELOPER), ("victor", Role.VIEWER)):
        member_add(actor=owner, tenant=tenant, user=users.create_user(username=name), role=role)
    app = app_create(tenant=tenant, slug="shop", actor=owner, description="The shop front")
    app_create(tenant=tenant, slug="worker", actor=owner)
    config_update(app=app, values={"DATABASE_URL": {"value": "postgres://shop", "secret": True}}, actor=owner)
    config_update(app=app, values={"GREETING": "hello"}, actor=owner)
    log = "".join(
        f"Step {n}/6 : {step}\n"
        for n, step in enumerate(
            [
                "FROM scratch",
                "COPY busybox /bin/busybox",
                "RUN busybox --install -s /bin",
                "COPY start.sh /app/",
                "ENV PORT=5000",
                "CMD /bin/sh /app/start.sh",
            ],
            start=1,
        )
    )
    build = Build.objects.create(
        app=app,
        number=1,
        source_kind=SourceKind.TARBALL,
        source={"dockerfile": ""},
        status=BuildStatus.SUCCEEDED,
        log=log + "Built 127.0.0.1:5000/acme/shop:1 (sha256:4f1c…, 1204224 bytes, 5 layers)\n",
        image="127.0.0.1:5000/acme/shop:1",
        digest="sha256:4f1c" + "0" * 60,
        size_bytes=1_204_224,
        layers=5,
        process_types={"web": "/bin/sh /app/start.sh"},
        warnings=["No USER in the Dockerfile: it runs as 65534."],
        created_by=owner,
    )
    release = release_deploy_build(build=build, actor=owner)
    steps = [
        {
            "name": name,
            "status": "succeeded",
            "started_at": f"2026-12-01T10:00:0{n}+00:00",
            "finished_at": f"2026-12-01T10:00:0{n + 1}+00:00",
            "detail": detail,
        }
        for n, (name, detail) in enumerate(
            [
                ("prepare", "image 127.0.0.1:5000/acme/shop:1 and network berth-acme"),
                ("start", "2 container(s)"),
                ("route", "web.acme.localhost"),
                ("drain", "1 old container(s)"),
            ]
        )
    ]
    deployment = Deployment.objects.create(
        app=app, release=release, status=DeploymentStatus.SUCCEEDED, steps=steps, progress=100
    )
    # No worker runs here: record the rollout as one would have.
    Release.objects.filter(app=app).exclude(pk=release.pk).update(status=ReleaseStatus.SUCCEEDED, error="")
    Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.SUCCEEDED)
    Deployment.objects.filter(app=app).exclude(pk=deployment.pk).delete()
    App.objects.filter(pk=app.pk).update(current_release=release)
    DatabaseSink().write(
        [
            LogRecord(
                tenant_id=tenant.pk,
                tenant="acme",
                app_id=app.pk,
                app="shop",
                release=release.version,
                process="web",
                index=1 + n % 2,
                container=f"c0ffee00000{1 + n % 2}",
                stream="stdout",
                timestamp_ns=1_795_834_801_000_000_000 + n * 1_000_000_000,
                rank=n,
                line=f"GET /products/{n} 200 {3 + n % 7} ms",
            )
            for n in range(1, 60)
        ]
    )
    token_create(user=owner, scopes=["read", "deploy"], name="ci", tenant=tenant)
    # Public address literals: saving them resolves nothing and sends nothing.
    drain = drain_add(app=app, url="syslog+tls://1.1.1.1:6514", actor=owner)
    Drain.objects.filter(pk=drain.pk).update(delivered=48_211, dropped=312, last_error="connection refused")
    webhook, _secret = webhook_create(
        tenant=tenant,
        url="https://1.1.1.1/berth-hooks",
        events=["release.succeeded", "release.failed"],
        actor=owner,
    )
    for n, (status, code) in enumerate((("succeeded", 200), ("failed", 500), ("failed", 502))):
        Delivery.objects.create(
            tenant=tenant,
            webhook=webhook,
            event="release.succeeded",
            payload={},
            status=status,
            response_code=code,
            attempt=1 + n,
        )
    return {
        "teams": "/",
        "tenant": "/t/acme/",
        "app": "/t/acme/apps/shop/",
        "app-settings": "/t/acme/apps/shop/settings/",
        "build": "/t/acme/apps/shop/builds/1/",
        "rollout": f"/t/acme/apps/shop/deployments/{deployment.pk}/",
        "logs": "/t/acme/apps/shop/logs/",
        "members": "/t/acme/members/",
        "audit": "/t/acme/audit/",
        "router": "/t/acme/apps/shop/router/",
        "webhooks": "/t/acme/webhooks/",
        "webhook-deliveries": f"/t/acme/webhooks/{webhook.pk}/",
        "tokens": "/account/tokens/",
        "api-docs": "/api/docs/",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed: run `make install` (Debian package)")
    data_dir = Path(tempfile.mkdtemp(prefix="berth-screenshots-"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update({"BERTH_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "portal.settings"})
    sys.path.insert(0, str(REPO))
    pages = _seed()

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - loopback URL built here
                    break
            except OSError:
                time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{url}/login/")
                page.fill("#id_username", "olivia")
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/")
                for name, path in pages.items():
                    page.goto(url + path)
                    if name == "logs":
                        page.click("#log-search button:has-text('Search')")
                        page.wait_for_selector("#history .log-line")
                    if name == "api-docs":
                        page.wait_for_selector(".opblock-tag")
                    page.wait_for_load_state("networkidle")
                    target = args.out / f"{name}-{width}.png"
                    page.screenshot(path=str(target), full_page=name != "api-docs")
                    print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
