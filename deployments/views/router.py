"""An app's traffic page: its router settings (body limit, timeouts, HTTPS redirect, maintenance, IP allowlist) and
its log drains (with what each delivered and dropped).

Each form posts to the service the API calls (router_settings_update, drain_add, drain_remove); a refusal comes back
as a message, with what was typed kept in the form.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.forms import DrainForm, RouterSettingsForm
from deployments.services import drains as drain_services
from deployments.services import router_settings as router_services
from portal.errors import ApplicationError, Invalid
from tenants.ui import error_text, form_errors, tenant_for


def _page(request, tenant, app, can, *, router_form=None, drain_form=None, status=200):
    context = {
        "tenant": tenant,
        "app": app,
        "can": can,
        "router_form": router_form or RouterSettingsForm.for_row(selectors.router_settings_get(app=app)),
        "drain_form": drain_form or DrainForm(),
        "drains": selectors.drain_list(app=app),
    }
    return render(request, "deployments/app_router.html", context, status=status)


def _back(app):
    return redirect("ui-app-router", tenant=app.tenant.slug, app=app.slug)


@login_required
@require_GET
def app_router(request, tenant, app):
    tenant, can = tenant_for(request, tenant, "router.view")
    return _page(request, tenant, selectors.app_get(tenant=tenant, slug=app), can)


def _submit(request, tenant_slug: str, app_slug: str, action: str, form_class, call, form_key: str):
    """Check a posted form, hand its data to `call(app, data)` (a service), and come back with the outcome.

    A refusal (the form's or the service's) renders the page again with what was typed and the reason; success
    redirects to the page with the message `call` returns.
    """
    tenant, can = tenant_for(request, tenant_slug, action)
    app = selectors.app_get(tenant=tenant, slug=app_slug)
    form = form_class(request.POST)
    try:
        if not form.is_valid():
            raise Invalid(form_errors(form))
        messages.success(request, call(app, form))
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
        return _page(request, tenant, app, can, status=400, **{form_key: form})
    return _back(app)


@login_required
@require_POST
def app_router_update(request, tenant, app):
    def call(app, form):
        router_services.router_settings_update(app=app, values=form.values(), actor=request.user)
        return "Saved the router settings: the routers apply them within a second."

    return _submit(request, tenant, app, "router.update", RouterSettingsForm, call, "router_form")


@login_required
@require_POST
def app_drain_add(request, tenant, app):
    def call(app, form):
        drain = drain_services.drain_add(app=app, actor=request.user, **form.cleaned_data)
        return f"{app.slug}'s lines now go to {drain.url} as well."

    return _submit(request, tenant, app, "drain.manage", DrainForm, call, "drain_form")


@login_required
@require_POST
def app_drain_remove(request, tenant, app, drain):
    tenant, _ = tenant_for(request, tenant, "drain.manage")
    app = selectors.app_get(tenant=tenant, slug=app)
    drain = selectors.drain_get(app=app, pk=drain)
    drain_services.drain_remove(drain=drain, actor=request.user)
    messages.success(request, f"Removed the drain to {drain.url}.")
    return _back(app)
