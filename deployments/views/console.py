"""Staff console: the fleet of Docker hosts at a glance (the Django admin holds the rest)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from deployments import selectors


@staff_member_required
@require_GET
def host_list(request):
    return render(request, "console/hosts.html", {"hosts": selectors.host_list()})
