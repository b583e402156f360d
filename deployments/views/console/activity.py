"""Console pages across tenants: the fleet overview, deployments and builds (cancel, retry), the audit trail."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deployments.selectors import console as reads
from deployments.services.builds.cancel import build_cancel as cancel_service
from deployments.services.rollouts import operator
from deployments.services.routes import ROUTER_STALE
from deployments.views.console.base import act, confirm, staff_page
from deployments.views.console.forms import AuditFilter, build_filter, deployment_filter


@staff_page("console.view")
@require_GET
def overview(request):
    return render(request, "console/overview.html", {"fleet": reads.fleet_overview(router_stale=ROUTER_STALE)})


def _filtered(form) -> dict:
    return form.cleaned_data if form.is_valid() else {}


@staff_page("console.view")
@require_GET
def deployment_list(request):
    form = deployment_filter(request.GET)
    rows = reads.console_deployments(**_filtered(form))
    return render(request, "console/deployments.html", {"deployments": rows, "form": form})


@staff_page("console.view")
@require_GET
def deployment_detail(request, pk):
    deployment = reads.console_deployment_get(pk=pk)
    if deployment is None:
        raise Http404("No such deployment.")
    return render(request, "console/deployment.html", {"deployment": deployment})


@staff_page("console.manage")
@require_POST
def deployment_retry(request, pk):
    deployment = reads.console_deployment_get(pk=pk)
    if deployment is None:
        raise Http404("No such deployment.")
    act(
        request,
        lambda: operator.rollout_retry(actor=request.user, deployment=deployment),
        lambda retry: f"Queued deployment {retry.pk}, the rollout of v{deployment.release.version} again.",
    )
    return redirect("console-deployment", pk=deployment.pk)


@staff_page("console.view")
@require_GET
def build_list(request):
    form = build_filter(request.GET)
    return render(request, "console/builds.html", {"builds": reads.console_builds(**_filtered(form)), "form": form})


@staff_page("console.view")
@require_GET
def build_detail(request, pk):
    build = reads.console_build_get(pk=pk)
    if build is None:
        raise Http404("No such build.")
    return render(request, "console/build.html", {"build": build})


@staff_page("console.manage")
@require_http_methods(["GET", "POST"])
def build_cancel(request, pk):
    build = reads.console_build_get(pk=pk)
    if build is None:
        raise Http404("No such build.")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        act(request, lambda: cancel_service(build=build, actor=request.user), f"Cancelled build {build.number}.")
        return redirect("console-build", pk=build.pk)
    return confirm(
        request,
        title=f"Cancel build {build.number} of {build.app.tenant.slug}/{build.app.slug}",
        question="Stop this build? Its tenant sees that staff cancelled it.",
        action=reverse("console-build-cancel", args=[build.pk]),
        button="Cancel the build",
        back=reverse("console-build", args=[build.pk]),
    )


@staff_page("console.view")
@require_GET
def audit_list(request):
    form = AuditFilter(request.GET)
    return render(request, "console/audit.html", {"events": reads.console_audit(**_filtered(form)), "form": form})
