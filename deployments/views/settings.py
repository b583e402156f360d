"""An app's settings page: description, formation (quantity, memory, CPU, health check) and release command, and
deletion with the name typed to confirm; container restarts and the audited reveal of a config var.

Each form posts to the service the API calls (app_update, formation_update, app_delete, container_restart,
config_reveal) and the refusal comes back as a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.forms import AppDeleteForm, AppDescriptionForm, FormationForm, ReleaseCommandForm
from deployments.services import apps as app_services
from deployments.services import config as config_services
from deployments.services import containers as container_services
from deployments.services import formation as formation_services
from deployments.services.releases import RELEASE_PHASE
from portal.errors import ApplicationError
from tenants.ui import error_text, form_errors, is_htmx, tenant_for

REFUSED = (ApplicationError, ValueError)


def _settings_page(request, tenant, app, can, **forms):
    rows = list(selectors.formation_list(app=app))
    context = {
        "tenant": tenant,
        "app": app,
        "can": can,
        "description_form": forms.get("description_form")
        or AppDescriptionForm(initial={"description": app.description}),
        "formation_forms": forms.get("formation_forms") or [(row, FormationForm.for_row(row)) for row in rows],
        "release_form": forms.get("release_form") or ReleaseCommandForm(initial={"command": app.release_command}),
        "delete_form": forms.get("delete_form") or AppDeleteForm(app_slug=app.slug),
    }
    return render(request, "deployments/app_settings.html", context)


@login_required
@require_GET
def app_settings(request, tenant, app):
    tenant, can = tenant_for(request, tenant, "app.view")
    return _settings_page(request, tenant, selectors.app_get(tenant=tenant, slug=app), can)


def _back(app):
    return redirect("ui-app-settings", tenant=app.tenant.slug, app=app.slug)


@login_required
@require_POST
def app_description(request, tenant, app):
    tenant, _ = tenant_for(request, tenant, "app.update")
    app = selectors.app_get(tenant=tenant, slug=app)
    form = AppDescriptionForm(request.POST)
    if form.is_valid():
        app_services.app_update(app=app, actor=request.user, description=form.cleaned_data["description"])
        messages.success(request, "Saved the description.")
    else:
        messages.error(request, form_errors(form))
    return _back(app)


def _formation_outcome(request, app, body: dict) -> None:
    try:
        _, release = formation_services.formation_update(app=app, values=body, actor=request.user)
    except REFUSED as exc:
        messages.error(request, error_text(exc))
        return
    messages.success(request, f"v{release.version}: {release.summary}" if release else "Scaling to the new formation.")


@login_required
@require_POST
def app_formation(request, tenant, app):
    """Save one process type's formation (a quantity alone is a scale; anything else a new release)."""
    tenant, can = tenant_for(request, tenant, "formation.update")
    app = selectors.app_get(tenant=tenant, slug=app)
    rows = {row.process_type: row for row in selectors.formation_list(app=app)}
    row = rows.get(request.POST.get("process_type", ""))
    if row is None:
        messages.error(request, f"{app.slug} has no such process type; its build defines {', '.join(rows) or 'none'}.")
        return _back(app)
    form = FormationForm.for_row(row, request.POST)
    if not form.is_valid():
        messages.error(request, f"{row.process_type}: {form_errors(form)}")
        forms = [(r, form if r.pk == row.pk else FormationForm.for_row(r)) for r in rows.values()]
        return _settings_page(request, tenant, app, can, formation_forms=forms)
    _formation_outcome(request, app, {row.process_type: form.values()})
    return _back(app)


@login_required
@require_POST
def app_release_command(request, tenant, app):
    tenant, _ = tenant_for(request, tenant, "formation.update")
    app = selectors.app_get(tenant=tenant, slug=app)
    form = ReleaseCommandForm(request.POST)
    if form.is_valid():
        _formation_outcome(request, app, {RELEASE_PHASE: {"command": form.cleaned_data["command"] or None}})
    else:
        messages.error(request, form_errors(form))
    return _back(app)


@login_required
@require_POST
def app_delete(request, tenant, app):
    """Delete the app (admins, as in the API) once its name is typed; its containers stop after commit."""
    tenant, can = tenant_for(request, tenant, "app.delete")
    app = selectors.app_get(tenant=tenant, slug=app)
    form = AppDeleteForm(request.POST, app_slug=app.slug)
    if not form.is_valid():
        return _settings_page(request, tenant, app, can, delete_form=form)
    app_services.app_delete(app=app, actor=request.user)
    messages.success(request, f"Deleted {app.slug}; its containers are being stopped.")
    return redirect("ui-tenant", tenant=tenant.slug)


@login_required
@require_POST
def container_restart(request, tenant, app, container):
    tenant, _ = tenant_for(request, tenant, "container.restart")
    app = selectors.app_get(tenant=tenant, slug=app)
    row = selectors.container_get(app=app, container_id=container)
    try:
        container_services.container_restart(actor=request.user, app=app, container=row)
    except REFUSED as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Restarted {row.name}.")
    return redirect("ui-app", tenant=tenant.slug, app=app.slug)


@login_required
@require_POST
def config_reveal(request, tenant, app):
    """Show one config var in clear to an admin, through the audited service; htmx swaps it into its row."""
    tenant, _ = tenant_for(request, tenant, "config.reveal")
    app = selectors.app_get(tenant=tenant, slug=app)
    key = request.POST.get("key", "")
    try:
        value = config_services.config_reveal(app=app, keys=[key], actor=request.user)[key]
    except ApplicationError as exc:
        value, error = "", error_text(exc)
    else:
        error = ""
    context = {"key": key, "value": value, "error": error}
    if is_htmx(request):
        response = render(request, "deployments/_config_revealed.html", context)
    else:
        response = render(request, "deployments/config_revealed.html", {**context, "tenant": tenant, "app": app})
    # A clear secret value must not stay in any cache.
    response["Cache-Control"] = "no-store"
    return response
