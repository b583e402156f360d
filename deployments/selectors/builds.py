"""Reads of builds. Every read takes the tenant (or an app already scoped to it)."""

from django.db.models import QuerySet

from deployments.models import App, Build, Release
from portal.errors import NotFound
from tenants.models import Tenant


def build_release_versions(*, builds) -> dict[int, int]:
    """Return {build id: version of the first release made from it} for `builds`."""
    versions: dict[int, int] = {}
    rows = Release.objects.filter(build__in=builds).order_by("version").values_list("build_id", "version")
    for build_id, version in rows:
        versions.setdefault(build_id, version)
    return versions


def build_list(*, app: App) -> QuerySet[Build]:
    """The app's builds, newest first, without their logs (a list never needs them)."""
    return Build.objects.filter(app=app).select_related("created_by", "cancelled_by").defer("log").order_by("-number")


def build_get(*, app: App, number: int) -> Build:
    """The app's build with this number, log included; NotFound when there is none."""
    build = Build.objects.filter(app=app, number=number).select_related("created_by", "cancelled_by").first()
    if build is None:
        raise NotFound()
    return build


def build_for_viewer(*, tenant: Tenant, app_slug: str, number: int) -> Build | None:
    """The build `number` of the tenant's app `app_slug`, or None (what the log WebSocket shows)."""
    return Build.objects.filter(app__tenant=tenant, app__slug=app_slug, number=number).first()
