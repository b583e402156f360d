"""Customer pages: a tenant's apps, an app's releases, config, formation, domains, builds and deployments, its logs.

Forms post to the same services the API uses; errors come back as messages on the page, or, for the domain forms
sent by htmx, next to the form on the domains card.
"""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.models.apps import WEB_PROCESS
from deployments.selectors import metrics as metrics_selectors
from deployments.services import apps as app_services
from deployments.services import certificates as certificate_services
from deployments.services import config as config_services
from deployments.services import containers as container_services
from deployments.services import domains as domain_services
from deployments.services import formation as formation_services
from deployments.services import releases as release_services
from deployments.services.builds import build_cancel
from deployments.services.releases import SECRET_MASK
from deployments.services.routes import app_hostname
from portal.errors import ApplicationError, NotFound
from tenants.ui import error_text as _error_text
from tenants.ui import tenant_for as _tenant

APPS_PAGE_SIZE = 50


@login_required
@require_GET
def tenant_detail(request, tenant):
    tenant, can = _tenant(request, tenant, "app.view")
    page = Paginator(selectors.app_list(tenant=tenant), APPS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "deployments/tenant.html", {"tenant": tenant, "page": page, "can": can})


@login_required
@require_POST
def app_create(request, tenant):
    tenant, _ = _tenant(request, tenant, "app.create")
    try:
        app = app_services.app_create(tenant=tenant, slug=request.POST.get("slug", "").strip(), actor=request.user)
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect("ui-tenant", tenant=tenant.slug)
    messages.success(request, f"Created {app.slug}.")
    return redirect("ui-app", tenant=tenant.slug, app=app.slug)


@login_required
@require_GET
def app_detail(request, tenant, app):
    tenant, can = _tenant(request, tenant, "app.view")
    app = selectors.app_get(tenant=tenant, slug=app)
    context = {
        "tenant": tenant,
        "app": app,
        "can": can,
        "url": app_services.app_url(app=app),
        "releases": selectors.release_list(app=app)[:20],
        "config": config_services.config_masked(app=app),
        "config_files": config_services.config_files(app=app),
        "secret_mask": SECRET_MASK,
        "formation": selectors.formation_list(app=app),
        "builds": selectors.build_list(app=app)[:5],
        "deployments": selectors.deployment_list(app=app)[:5],
        "domains": selectors.domain_list(app=app),
        "dns_target": app_hostname(app=app),
        "badge": metrics_selectors.app_badge(app=app, since=timezone.now() - dt.timedelta(hours=24)),
        "metrics_refresh": settings.BERTH_METRICS_INTERVAL,
        "repair": selectors.app_repair_status(app=app),
    }
    context["containers"], context["unreachable"] = container_services.container_list(app=app)
    return render(request, "deployments/app.html", context)


def _app_action(request, tenant: str, app: str, permission: str, action) -> HttpResponse:
    """Run one write on the app for a form post, then come back to the app page with its outcome as a message.

    `permission` names the entry of tenants.permissions.ACTIONS the post needs; `action(app)` calls a service and
    returns the success message; a refusal becomes an error message.
    """
    tenant, _ = _tenant(request, tenant, permission)
    app = selectors.app_get(tenant=tenant, slug=app)
    try:
        messages.success(request, action(app))
    except (ApplicationError, ValidationError, ValueError) as exc:
        messages.error(request, _error_text(exc))
    return redirect("ui-app", tenant=tenant.slug, app=app.slug)


@login_required
@require_POST
def app_config_set(request, tenant, app):
    key = request.POST.get("key", "").strip()
    file = request.POST.get("file", "").strip()
    if request.POST.get("unset"):
        body = {key: None}
    elif file:
        # A browser sends a textarea's lines with CRLF; a file (a PEM) keeps the lines it was pasted with.
        value = request.POST.get("value", "").replace("\r\n", "\n")
        body = {key: {"value": value, "secret": True, "file": file}}
    elif request.POST.get("secret"):
        body = {key: {"value": request.POST.get("value", ""), "secret": True}}
    else:
        body = {key: request.POST.get("value", "")}

    def action(app):
        release = config_services.config_update(app=app, values=body, actor=request.user)
        return f"v{release.version}: {release.summary}"

    return _app_action(request, tenant, app, "config.update", action)


@login_required
@require_POST
def app_rollback(request, tenant, app):
    def action(app):
        version = int(request.POST.get("version", "0"))
        release = release_services.release_rollback(app=app, version=version, actor=request.user)
        return f"v{release.version}: {release.summary}"

    return _app_action(request, tenant, app, "release.rollback", action)


@login_required
@require_POST
def app_scale(request, tenant, app):
    process_type = request.POST.get("process_type", WEB_PROCESS)

    def action(app):
        quantity = int(request.POST.get("quantity", ""))
        formation_services.formation_update(app=app, values={process_type: {"quantity": quantity}}, actor=request.user)
        return f"Scaled {process_type} to {quantity}."

    return _app_action(request, tenant, app, "formation.update", action)


@login_required
@require_POST
def app_build_cancel(request, tenant, app, number):
    def action(app):
        try:
            build = selectors.build_get(app=app, number=number)
        except NotFound as exc:
            # The build is named in the URL: no such build is the 404 page, as for a missing app, not a message.
            raise Http404(exc.message) from exc
        build = build_cancel(build=build, actor=request.user)
        return f"Build #{build.number} {build.status}."

    return _app_action(request, tenant, app, "build.cancel", action)


def _domains_outcome(request, tenant, app, can, *, notice: str = "", error: str = "", hostname: str = ""):
    """Answer a domain form with its outcome.

    htmx gets the domains card back, the outcome next to the form; a plain post (no JavaScript) comes back to the
    app page with the outcome as a message.
    """
    if request.headers.get("HX-Request") == "true":
        context = {
            "tenant": tenant,
            "app": app,
            "can": can,
            "domains": selectors.domain_list(app=app),
            "dns_target": app_hostname(app=app),
            "domain_notice": notice,
            "domain_error": error,
            "domain_input": hostname,
        }
        # 200 even for a refusal: htmx swaps no 4xx answer, and the card carries the error.
        return render(request, "deployments/_domains.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(reverse("ui-app", kwargs={"tenant": tenant.slug, "app": app.slug}) + "#domains")


@login_required
@require_POST
def app_domain_add(request, tenant, app):
    tenant, can = _tenant(request, tenant, "domain.add")
    app = selectors.app_get(tenant=tenant, slug=app)
    hostname = request.POST.get("hostname", "")
    try:
        domain = domain_services.domain_add(app=app, hostname=hostname, actor=request.user)
    except ApplicationError as exc:
        return _domains_outcome(request, tenant, app, can, error=_error_text(exc), hostname=hostname)
    notice = f"Added {domain.hostname}: point its DNS at {app_hostname(app=app)} (a CNAME record)."
    return _domains_outcome(request, tenant, app, can, notice=notice)


@login_required
@require_POST
def app_domain_remove(request, tenant, app):
    tenant, can = _tenant(request, tenant, "domain.remove")
    app = selectors.app_get(tenant=tenant, slug=app)
    hostname = request.POST.get("hostname", "")
    try:
        domain = selectors.domain_get(app=app, hostname=hostname)
    except NotFound:
        # Removed meanwhile (another tab, the API): say so on the card rather than answer a bare 404.
        return _domains_outcome(request, tenant, app, can, error=f"{app.slug} has no domain {hostname}.")
    domain_services.domain_remove(domain=domain, actor=request.user)
    return _domains_outcome(request, tenant, app, can, notice=f"Removed {domain.hostname}.")


# What each certificate form asks, and the action of the permission table it needs.
_CERTIFICATE_ACTIONS = {"acme": "certificate.set", "upload": "certificate.set", "remove": "certificate.remove"}


@login_required
@require_POST
def app_domain_certificate(request, tenant, app):
    """A domain's certificate: order one through ACME, upload a PEM chain and key, or stop serving it."""
    action = request.POST.get("action", "")
    tenant, can = _tenant(request, tenant, _CERTIFICATE_ACTIONS.get(action, "certificate.set"))
    app = selectors.app_get(tenant=tenant, slug=app)
    hostname = request.POST.get("hostname", "")
    if action not in _CERTIFICATE_ACTIONS:
        return _domains_outcome(request, tenant, app, can, error="Choose what to do with the certificate.")
    try:
        domain = selectors.domain_get(app=app, hostname=hostname)
    except NotFound:
        return _domains_outcome(request, tenant, app, can, error=f"{app.slug} has no domain {hostname}.")
    try:
        if action == "acme":
            certificate_services.certificate_acme_request(domain=domain, actor=request.user)
            notice = f"Ordering a certificate for {domain.hostname}: it is served once the ACME server issued it."
        elif action == "upload":
            cert = certificate_services.certificate_upload(
                domain=domain,
                certificate=request.POST.get("certificate", ""),
                private_key=request.POST.get("private_key", ""),
                actor=request.user,
            )
            notice = f"Serving the uploaded certificate for {domain.hostname} (valid until {cert.not_after:%Y-%m-%d})."
        else:
            certificate_services.certificate_remove(domain=domain, actor=request.user)
            notice = f"{domain.hostname} no longer has a certificate of its own."
    except ApplicationError as exc:
        return _domains_outcome(request, tenant, app, can, error=_error_text(exc))
    return _domains_outcome(request, tenant, app, can, notice=notice)
