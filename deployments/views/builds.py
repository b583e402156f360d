"""Deploy from the browser, and follow it: the build page (its log live) and the rollout page (its steps live).

The deploy forms post to build_create, the service the API's POST .../builds/ calls; the pages read through the
selectors and open the build-log and deployment WebSockets that the CLI follows too.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.forms import DEPLOY_FORMS
from deployments.models import BuildStatus, DeploymentStatus, SourceKind
from deployments.services.builds import build_create, git
from portal.errors import ApplicationError
from tenants.ui import error_text, form_errors, tenant_for

BUILD_FINISHED = (BuildStatus.SUCCEEDED, BuildStatus.FAILED, BuildStatus.CANCELLED)
DEPLOYMENT_FINISHED = (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.SUPERSEDED)


@login_required
@require_POST
def app_deploy(request, tenant, app):
    """Start a build from the archive, git repository or image posted; go to its page, or back with the refusal."""
    tenant, _ = tenant_for(request, tenant, "app.deploy")
    app = selectors.app_get(tenant=tenant, slug=app)
    form_class = DEPLOY_FORMS.get(request.POST.get("kind", ""))
    if form_class is None:
        raise Http404("No such source kind.")
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"Nothing deployed. {form_errors(form)}")
        return redirect("ui-app", tenant=tenant.slug, app=app.slug)
    fields = form.cleaned_data
    try:
        build = build_create(
            app=app,
            actor=request.user,
            archive_file=fields.get("source"),
            dockerfile=fields.get("dockerfile", ""),
            git_url=fields.get("url", ""),
            git_ref=fields.get("ref", ""),
            image=fields.get("image", ""),
        )
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, f"Nothing deployed: {error_text(exc)}")
        return redirect("ui-app", tenant=tenant.slug, app=app.slug)
    return redirect("ui-build", tenant=tenant.slug, app=app.slug, number=build.number)


def _source_text(build) -> str:
    if build.source_kind == SourceKind.GIT:
        source = build.source.get("git", {})
        return f"{git.redact(source.get('url', ''))} @ {source.get('ref', '')}"
    if build.source_kind == SourceKind.IMAGE:
        return build.source.get("image", "")
    return "uploaded archive" + (f" ({build.source['dockerfile']})" if build.source.get("dockerfile") else "")


def _build_context(request, tenant_slug: str, app_slug: str, number: int) -> dict:
    tenant, can = tenant_for(request, tenant_slug, "build.view")
    app = selectors.app_get(tenant=tenant, slug=app_slug)
    build = selectors.build_get(app=app, number=number)
    deployment = selectors.deployment_of_build(build=build) if build.status == BuildStatus.SUCCEEDED else None
    return {
        "tenant": tenant,
        "app": app,
        "can": can,
        "build": build,
        "source": _source_text(build),
        "finished": build.status in BUILD_FINISHED,
        "deployment": deployment,
        "deployment_finished": deployment is not None and deployment.status in DEPLOYMENT_FINISHED,
    }


@login_required
@require_GET
def build_detail(request, tenant, app, number):
    """The build: its source, its log (live over the build WebSocket while it runs), its image and its rollout."""
    return render(request, "deployments/build.html", _build_context(request, tenant, app, number))


@login_required
@require_GET
def build_summary(request, tenant, app, number):
    """The build's outcome card (image, size, layers, warnings, rollout), which the build page fetches at its end."""
    return render(request, "deployments/_build_summary.html", _build_context(request, tenant, app, number))


@login_required
@require_GET
def deployment_detail(request, tenant, app, deployment):
    """One rollout: its steps with their times, filling in live over the deployment WebSocket."""
    tenant, can = tenant_for(request, tenant, "deployment.view")
    app = selectors.app_get(tenant=tenant, slug=app)
    deployment = selectors.deployment_get(app=app, deployment_id=deployment)
    context = {
        "tenant": tenant,
        "app": app,
        "can": can,
        "deployment": deployment,
        "deployment_finished": deployment.status in DEPLOYMENT_FINISHED,
    }
    return render(request, "deployments/deployment.html", context)
