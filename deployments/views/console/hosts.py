"""Console pages of the Docker hosts: register, labels and capacity, drain and make ready, containers, GC."""

from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deployments.selectors import console as reads
from deployments.selectors import host_get
from deployments.services import gc as gc_services
from deployments.services import hosts as host_services
from deployments.services.rollouts import operator
from deployments.views.console.base import act, confirm, refuse_form, staff_page
from deployments.views.console.forms import HostRegisterForm, HostUpdateForm


def _host(name: str):
    return host_get(name=name)


@staff_page("console.view")
@require_GET
def host_list(request):
    context = {"hosts": reads.console_hosts(), "form": HostRegisterForm()}
    return render(request, "console/hosts.html", context)


@staff_page("console.manage")
@require_POST
def host_register(request):
    form = HostRegisterForm(request.POST)
    if not form.is_valid():
        refuse_form(request, form)
        return render(request, "console/hosts.html", {"hosts": reads.console_hosts(), "form": form}, status=400)
    data = form.cleaned_data
    if act(request, lambda: host_services.host_create(actor=request.user, **data), f"Registered host {data['name']}."):
        return redirect("console-host", name=data["name"])
    return render(request, "console/hosts.html", {"hosts": reads.console_hosts(), "form": form}, status=400)


@staff_page("console.view")
@require_GET
def host_detail(request, name):
    host = _host(name)
    context = {
        "host": host,
        "containers": reads.console_host_containers(host=host),
        "gc_runs": reads.console_host_gc_runs(host=host)[:10],
        "heartbeats": reads.console_host_heartbeats(host=host),
        "form": HostUpdateForm(
            initial={
                "labels": "\n".join(f"{key}={value}" for key, value in host.labels.items()),
                "capacity_containers": host.capacity_containers,
                "capacity_memory_mb": host.capacity_memory_mb,
                "address": host.address,
            }
        ),
    }
    return render(request, "console/host.html", context)


@staff_page("console.manage")
@require_POST
def host_update(request, name):
    host = _host(name)
    form = HostUpdateForm(request.POST)
    if form.is_valid():
        act(request, lambda: host_services.host_update(actor=request.user, host=host, **form.cleaned_data), "Saved.")
    else:
        refuse_form(request, form)
    return redirect("console-host", name=host.name)


@staff_page("console.manage")
@require_http_methods(["GET", "POST"])
def host_drain(request, name):
    host = _host(name)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        act(
            request,
            lambda: operator.host_drain(actor=request.user, host=host),
            lambda apps: f"Host {host.name} is draining: {len(apps)} app(s) rolling out on other hosts.",
        )
        return redirect("console-host", name=host.name)
    count = reads.console_host_containers(host=host).count()
    return confirm(
        request,
        title=f"Drain {host.name}",
        question=f"Place nothing more on {host.name} and roll its apps out on other hosts ({count} container(s) "
        "now)? An app no other host can hold keeps running here.",
        action=reverse("console-host-drain", args=[host.name]),
        button="Drain",
        back=reverse("console-host", args=[host.name]),
    )


@staff_page("console.manage")
@require_POST
def host_ready(request, name):
    host = _host(name)
    act(request, lambda: operator.host_ready(actor=request.user, host=host), f"Host {host.name} is ready.")
    return redirect("console-host", name=host.name)


@staff_page("console.manage")
@require_http_methods(["GET", "POST"])
def host_gc(request, name):
    """A dry run at once; a real run after a confirmation page showing what the last dry run would remove."""
    host = _host(name)
    dry_run = request.POST.get("dry_run") == "1" if request.method == "POST" else False
    if request.method == "POST" and (dry_run or request.POST.get("confirm") == "yes"):
        act(
            request,
            lambda: gc_services.gc_run(host=host, dry_run=dry_run, actor=request.user),
            lambda run: (
                run.error
                or f"{'Dry run' if dry_run else 'Garbage collection'} of {host.name}: "
                f"{run.bytes_reclaimed} bytes {'would go' if dry_run else 'reclaimed'}."
            ),
        )
        return redirect("console-host", name=host.name)
    last = reads.console_host_gc_runs(host=host).filter(dry_run=True).first()
    return confirm(
        request,
        title=f"Garbage collection of {host.name}",
        question="Remove the stopped containers and images Berth no longer needs on this host? "
        + (
            f"The last dry run ({last.created_at:%Y-%m-%d %H:%M}) would remove "
            f"{len(last.removed.get('containers', []))} container(s) and {len(last.removed.get('images', []))} "
            f"image(s), {last.bytes_reclaimed} bytes."
            if last
            else "No dry run yet: run one first to see what would go."
        ),
        action=reverse("console-host-gc", args=[host.name]),
        button="Collect garbage",
        back=reverse("console-host", args=[host.name]),
    )
