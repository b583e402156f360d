"""The terminal page: an attached one-off run or an exec in a running container, in xterm.js over their WebSockets.

Starting a run is a form post (the run's container is created, its terminal opens on the page it redirects to); an
exec is a link: the WebSocket itself checks the permission table and the Origin, and audits the exec.
"""

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.services import containers as container_services
from deployments.services import terminals
from portal.errors import ApplicationError, NotFound
from tenants.ui import error_text, tenant_for

MAX_COMMAND = 10_000
CONTAINER_REF = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")  # web.1 or an engine id prefix: one path segment


@login_required
@require_GET
def app_terminal(request, tenant, app):
    tenant, can = tenant_for(request, tenant, "run.attach")
    app = selectors.app_get(tenant=tenant, slug=app)
    base = f"/ws/tenants/{tenant.slug}/apps/{app.slug}/"
    ws, title = "", ""
    if request.GET.get("run", "").isdigit():
        try:
            run = selectors.run_get(app=app, number=request.GET["run"])
        except NotFound:
            run = None
        if run is not None and run.created_by_id == request.user.pk:
            ws, title = f"{base}runs/{run.number}/", f"run.{run.number}: {' '.join(run.command)}"
    elif CONTAINER_REF.fullmatch(request.GET.get("container", "")):
        container = request.GET["container"]
        command = request.GET.get("command", "").split() or ["sh"]
        query = urlencode([("command", part) for part in command])
        ws, title = f"{base}containers/{container}/exec/?{query}", f"{container}: {' '.join(command)}"
    containers, _ = container_services.container_list(app=app)
    context = {"tenant": tenant, "app": app, "can": can, "ws": ws, "title": title, "containers": containers}
    return render(request, "deployments/terminal.html", context)


@login_required
@require_POST
def app_terminal_run(request, tenant, app):
    """Start an attached run of `sh -c COMMAND` and open its terminal."""
    tenant, _ = tenant_for(request, tenant, "run.create")
    app = selectors.app_get(tenant=tenant, slug=app)
    page = reverse("ui-app-terminal", args=[tenant.slug, app.slug])
    command = request.POST.get("command", "").strip()
    if not command or len(command) > MAX_COMMAND:
        messages.error(request, f"Type a command of 1 to {MAX_COMMAND} characters.")
        return redirect(page)
    try:
        run = terminals.run_attached_create(app=app, command=["sh", "-c", command], actor=request.user)
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
        return redirect(page)
    if run.error:
        messages.error(request, run.error)
        return redirect(page)
    return redirect(f"{page}?run={run.number}")
