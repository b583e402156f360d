"""Time `manage.py rotate_secrets` over N secrets (config vars plus the release snapshots that hold them).

Run against a scratch database: the command rotates every secret it finds there.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/berth_bench .venv/bin/python bench/rotate_secrets.py --count 10000
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--per-app", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    from cryptography.fernet import Fernet
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from deployments import crypto
    from deployments.models import ConfigVar
    from deployments.services.apps import app_create
    from deployments.services.releases import release_next
    from tenants.models import Membership, Tenant

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.BERTH_SECRET_KEYS = [old_key]
    Tenant.objects.filter(slug="bench-rotate").delete()
    tenant = Tenant.objects.create(slug="bench-rotate", name="Bench", max_apps=10000)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    made = 0
    while made < args.count:
        app = app_create(tenant=tenant, slug=f"app{made // args.per_app}", actor=user)
        size = min(args.per_app, args.count - made)
        ConfigVar.objects.bulk_create(
            ConfigVar(app=app, key=f"S{i}", secret=True, value=crypto.encrypt(f"v{made + i}")) for i in range(size)
        )
        release_next(app=app, actor=user, summary="bench")
        made += size

    env = {**os.environ, "BERTH_SECRET_KEYS": f"{new_key},{old_key}"}
    command = [sys.executable, "manage.py", "rotate_secrets", "--batch-size", str(args.batch_size)]
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_DIR, env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - started

    settings.BERTH_SECRET_KEYS = [new_key]
    values = ConfigVar.objects.filter(app__tenant=tenant).values_list("value", flat=True)
    readable = sum(1 for value in values if crypto.decrypt(value))
    print(f"rotated {args.count} config vars + {args.count} snapshot values in {elapsed:.2f}s (process start included)")
    print(f"readable with the new key alone: {readable}/{args.count}")
    tenant.delete()


if __name__ == "__main__":
    main()
