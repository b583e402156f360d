"""Console pages of the tenants: list and search, members, apps, usage and quotas; edit quotas; suspend, resume."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deployments.selectors import console as reads
from deployments.services import suspension
from deployments.views.console.base import act, refuse_form, staff_page
from deployments.views.console.forms import QuotasForm, SuspendForm
from tenants.selectors import tenant_get_by_slug
from tenants.services import tenant_update


def _tenant(slug: str):
    tenant = tenant_get_by_slug(slug=slug)
    if tenant is None:
        raise Http404("No such tenant.")
    return tenant


@staff_page("console.view")
@require_GET
def tenant_list(request):
    search = request.GET.get("q", "").strip()
    return render(request, "console/tenants.html", {"tenants": reads.console_tenants(search=search), "q": search})


def _detail(request, tenant, *, quotas_form=None, suspend_form=None, status=200):
    context = {
        "tenant": tenant,
        "members": reads.console_tenant_members(tenant=tenant),
        "apps": reads.console_tenant_apps(tenant=tenant),
        "usage": reads.console_tenant_usage(tenant=tenant),
        "committed": reads.console_tenant_committed(tenant=tenant),
        "quotas_form": quotas_form
        or QuotasForm(initial={field: getattr(tenant, field) for field in QuotasForm.base_fields}),
        "suspend_form": suspend_form or SuspendForm(),
    }
    return render(request, "console/tenant.html", context, status=status)


@staff_page("console.view")
@require_GET
def tenant_detail(request, slug):
    return _detail(request, _tenant(slug))


@staff_page("console.manage")
@require_POST
def tenant_quotas(request, slug):
    tenant = _tenant(slug)
    form = QuotasForm(request.POST)
    if not form.is_valid():
        refuse_form(request, form)
        return _detail(request, tenant, quotas_form=form, status=400)
    act(
        request,
        lambda: tenant_update(actor=request.user, tenant=tenant, quotas=form.cleaned_data),
        f"Saved the plan and quotas of {tenant.slug}.",
    )
    return redirect("console-tenant", slug=tenant.slug)


@staff_page("tenant.suspend")
@require_POST
def tenant_suspend(request, slug):
    """Suspend once the slug is typed: its apps answer the notice at the router; nothing is deleted."""
    tenant = _tenant(slug)
    form = SuspendForm(request.POST)
    if not form.is_valid() or form.cleaned_data["confirm"] != tenant.slug:
        form.is_valid()
        form.add_error("confirm", f"Type {tenant.slug} to suspend this tenant.")
        refuse_form(request, form)
        return _detail(request, tenant, suspend_form=form, status=400)
    act(
        request,
        lambda: suspension.tenant_suspend(actor=request.user, tenant=tenant, reason=form.cleaned_data["reason"]),
        f"Suspended {tenant.slug}: its apps answer the suspension notice.",
    )
    return redirect("console-tenant", slug=tenant.slug)


@staff_page("tenant.suspend")
@require_POST
def tenant_resume(request, slug):
    tenant = _tenant(slug)
    act(
        request,
        lambda: suspension.tenant_resume(actor=request.user, tenant=tenant),
        f"Resumed {tenant.slug}: its apps serve again.",
    )
    return redirect("console-tenant", slug=tenant.slug)
