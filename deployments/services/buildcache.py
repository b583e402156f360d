"""Each app's buildpack cache (CACHE_DIR): a tar under BERTH_DATA_DIR/build-cache/<tenant>/<app>.tar.

A buildpack build starts from it and leaves the new one (services/builds/buildpacks.py); past
BERTH_BUILD_CACHE_MB it is not kept, so the next build starts cold. It is cleared on request and removed with the app.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from deployments.engine import images
from deployments.engine.client import EngineSpec
from deployments.models import App
from tenants.audit import audit_record


def _path(tenant_slug: str, app_slug: str) -> Path:
    return Path(settings.DATA_DIR) / "build-cache" / tenant_slug / f"{app_slug}.tar"


def cache_path(*, app: App) -> Path:
    return _path(app.tenant.slug, app.slug)


def cache_size(*, app: App) -> int:
    try:
        return cache_path(app=app).stat().st_size
    except FileNotFoundError:
        return 0


def cache_store(*, app: App, spec: EngineSpec, image: str, workdir: Path) -> str:
    """Keep /workspace/cache of the compile image `image` as the app's cache; return a note for the log."""
    limit = settings.BERTH_BUILD_CACHE_MB * 1024 * 1024
    fresh = workdir / "cache.tar"
    path = cache_path(app=app)
    if not images.copy_out(spec, image=image, path="/workspace/cache", dest=fresh, max_bytes=limit):
        path.unlink(missing_ok=True)
        return f"Warning: the build cache is larger than {settings.BERTH_BUILD_CACHE_MB} MB: not kept"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(fresh, path)
    return f"Build cache kept ({path.stat().st_size} bytes)"


def cache_clear(*, app: App, actor) -> int:
    """Delete the app's cache (its next buildpack build starts cold); return the bytes freed."""
    size = cache_size(app=app)
    cache_path(app=app).unlink(missing_ok=True)
    audit_record(actor=actor, tenant=app.tenant, action="build_cache.clear", target=app, diff={"bytes": size})
    return size


def cache_remove(*, tenant_slug: str, app_slug: str) -> None:
    """Delete the cache of an app that is gone."""
    _path(tenant_slug, app_slug).unlink(missing_ok=True)
