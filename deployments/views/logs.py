"""The log viewer: the live tail (over the logs WebSocket), history and search with a time range, "load older lines"
by cursor, and the download of a range as plain text. Every read goes through the log store (deployments.logs.store)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from deployments import selectors
from deployments.forms import LogQueryForm
from deployments.logs.sinks import SinkUnavailable
from deployments.logs.store import log_export, log_search
from tenants.ui import form_errors, tenant_for

HISTORY_PAGE = 200
DOWNLOAD_MAX_LINES = 100_000


def _app(request, tenant_slug: str, app_slug: str):
    tenant, can = tenant_for(request, tenant_slug, "app.logs")
    return tenant, can, selectors.app_get(tenant=tenant, slug=app_slug)


@login_required
@require_GET
def app_logs(request, tenant, app):
    tenant, can, app = _app(request, tenant, app)
    context = {
        "tenant": tenant,
        "app": app,
        "can": can,
        "form": LogQueryForm(),
        "dropped": selectors.log_dropped_count(app=app),
        "download_max": DOWNLOAD_MAX_LINES,
    }
    return render(request, "deployments/logs.html", context)


@login_required
@require_GET
def app_log_history(request, tenant, app):
    """One page of matching lines, oldest first, newest `HISTORY_PAGE` before `before` (htmx fragment)."""
    tenant, _, app = _app(request, tenant, app)
    form = LogQueryForm(request.GET)
    context = {"tenant": tenant, "app": app, "lines": [], "error": "", "older": None}
    if not form.is_valid():
        context["error"] = form_errors(form)
        return render(request, "deployments/_log_lines.html", context)
    filters = form.filters()
    try:
        lines = log_search(tenant=tenant, app=app, before=form.cleaned_data["before"], limit=HISTORY_PAGE, **filters)
    except SinkUnavailable as exc:
        context["error"] = f"The log store does not answer ({exc}); try again in a moment."
        return render(request, "deployments/_log_lines.html", context)
    context["lines"] = lines
    if len(lines) == HISTORY_PAGE:
        older = request.GET.copy()
        older["before"] = lines[0]["cursor"]
        context["older"] = older.urlencode()
    return render(request, "deployments/_log_lines.html", context)


def _text(line: dict) -> str:
    index = "" if line["index"] is None else f".{line['index']}"
    release = "" if line["release"] is None else f" v{line['release']}"
    return f"{line['timestamp']} {line['process']}{index}{release} {line['line']}\n"


@login_required
@require_GET
def app_log_download(request, tenant, app):
    """The matching lines of a range as text/plain, oldest first, streamed a page at a time."""
    tenant, _, app = _app(request, tenant, app)
    form = LogQueryForm(request.GET)
    if not form.is_valid():
        return HttpResponse(f"{form_errors(form)}\n", status=400, content_type="text/plain; charset=utf-8")
    lines = log_export(tenant=tenant, app=app, max_lines=DOWNLOAD_MAX_LINES, **form.filters())

    def body():
        try:
            for line in lines:
                yield _text(line)
        except SinkUnavailable as exc:
            yield f"# the log store stopped answering: {exc}\n"

    response = StreamingHttpResponse(body(), content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{tenant.slug}-{app.slug}-logs-{stamp}.txt"'
    return response
