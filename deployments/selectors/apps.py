"""Reads of apps, config vars, formations and releases. Every read takes the tenant (or an app already scoped to it)."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from deployments.models import App, ConfigVar, Formation, Release
from portal.errors import NotFound
from tenants.models import Tenant


def app_list(*, tenant: Tenant) -> QuerySet[App]:
    """The tenant's apps with their formation and `latest_version` (the newest release, live or not).

    The latest version is a correlated subquery, one probe of the (app, version) unique index per app of the page:
    an aggregate over the releases made PostgreSQL read and group every release of the tenant before the LIMIT.
    """
    newest = Release.objects.filter(app=OuterRef("pk")).order_by("-version").values("version")[:1]
    return (
        App.objects.filter(tenant=tenant)
        .select_related("tenant", "current_release", "repair")
        .prefetch_related(Prefetch("formation", queryset=Formation.objects.order_by("process_type")))
        .annotate(latest_version=Subquery(newest))
    )


def app_get(*, tenant: Tenant, slug: str) -> App:
    """The tenant's app with this slug; a missing app and another tenant's app both raise NotFound."""
    app = app_list(tenant=tenant).filter(slug=slug).first()
    if app is None:
        raise NotFound()
    return app


def app_latest_version(*, app: App) -> int | None:
    return Release.objects.filter(app=app).order_by("-version").values_list("version", flat=True).first()


def config_list(*, app: App) -> QuerySet[ConfigVar]:
    return ConfigVar.objects.filter(app=app).order_by("key")


def formation_list(*, app: App) -> QuerySet[Formation]:
    return Formation.objects.filter(app=app).order_by("process_type")


def release_list(*, app: App) -> QuerySet[Release]:
    """The app's releases, newest first, with their app, build and author (a page reads each of them per row)."""
    return (
        Release.objects.filter(app=app)
        .select_related("app", "build", "created_by")
        .defer("build__log")
        .order_by("-version")
    )


def release_get(*, app: App, version: int) -> Release:
    release = release_list(app=app).filter(version=version).first()
    if release is None:
        raise NotFound()
    return release


def release_latest(*, app: App) -> Release | None:
    return release_list(app=app).first()
