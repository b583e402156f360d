"""Writes on apps: create (with release v1 and a `web` formation), update, delete."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.models import App, Formation, HealthcheckKind
from deployments.models.apps import WEB_PROCESS
from deployments.services import rollouts
from deployments.services.buildcache import cache_remove
from deployments.services.gitrepos import repository_remove
from deployments.services.releases import actor_name, release_next, tenant_lock
from deployments.services.routes import app_hostname
from deployments.services.webhooks import webhook_app_event
from portal.errors import Conflict, QuotaExceeded
from tenants.audit import audit_record
from tenants.models import Tenant


def app_url(*, app: App) -> str:
    """Where the router serves the app's web process."""
    return f"{settings.BERTH_ROUTER_SCHEME}://{app_hostname(app=app)}:{settings.BERTH_ROUTER_PORT}/"


@transaction.atomic
def app_create(*, tenant: Tenant, slug: str, actor, description: str = "") -> App:
    """Create an app within the tenant's quota; it starts at release v1 with one `web` process and no build."""
    tenant = tenant_lock(tenant=tenant)
    count = App.objects.filter(tenant=tenant).count()
    if count >= tenant.max_apps:
        raise QuotaExceeded(
            f"Tenant {tenant.slug} already has {count} apps, its quota is {tenant.max_apps}. "
            "Delete an app or ask for a larger quota.",
            fields={"slug": [f"At most {tenant.max_apps} apps per tenant."]},
        )
    app = App(tenant=tenant, slug=slug, description=description, created_by=actor)
    app.full_clean(validate_constraints=False)
    if App.objects.filter(tenant=tenant, slug=slug).exists():
        raise Conflict(f"Tenant {tenant.slug} already has an app named {slug}.", code="app_exists")
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError:
        raise Conflict(f"Tenant {tenant.slug} already has an app named {slug}.", code="app_exists") from None
    Formation.objects.create(
        app=app, process_type=WEB_PROCESS, quantity=1, healthcheck_kind=HealthcheckKind.HTTP, healthcheck="/"
    )
    audit_record(actor=actor, tenant=tenant, action="app.create", target=app, diff={"slug": slug})
    release_next(app=app, actor=actor, summary=f"{actor_name(actor)} created {slug}")
    webhook_app_event(app=app, event="app.created")
    return app


@transaction.atomic
def app_update(*, app: App, actor, description: str | None = None) -> App:
    """Change what describes the app (its slug is its address and never changes)."""
    diff = {}
    if description is not None and description != app.description:
        diff["description"] = [app.description, description]
        app.description = description
    if not diff:
        return app
    app.updated_at = timezone.now()
    app.full_clean(validate_constraints=False)
    app.save(update_fields=["description", "updated_at"])
    audit_record(actor=actor, tenant=app.tenant, action="app.update", target=app, diff=diff)
    return app


def _teardown_enqueue(*, tenant: str, app: str, containers: list[dict]) -> None:
    """Ask the rollout service to stop the deleted app's containers and drop its route."""
    rollouts.app_teardown_enqueue(tenant=tenant, app=app, containers=containers)


@transaction.atomic
def app_delete(*, app: App, actor) -> None:
    """Delete an app with its releases, builds and config; its containers are stopped after commit."""
    app = App.objects.select_for_update().select_related("tenant").get(pk=app.pk)
    containers = [
        {"host": host, "engine_id": engine_id}
        for host, engine_id in app.containers.exclude(engine_id="").values_list("host__name", "engine_id")
    ]
    audit_record(
        actor=actor,
        tenant=app.tenant,
        action="app.delete",
        target=app,
        diff={"slug": app.slug, "releases": app.releases.count(), "containers": len(containers)},
    )
    tenant_slug, app_slug = app.tenant.slug, app.slug
    webhook_app_event(app=app, event="app.deleted")
    # Releases protect their builds; remove them first so the cascade from App can delete builds.
    app.releases.all().delete()
    app.delete()
    transaction.on_commit(lambda: _teardown_enqueue(tenant=tenant_slug, app=app_slug, containers=containers))
    transaction.on_commit(lambda: repository_remove(tenant_slug=tenant_slug, app_slug=app_slug))
    transaction.on_commit(lambda: cache_remove(tenant_slug=tenant_slug, app_slug=app_slug))
