"""Staff console: the fleet of Docker hosts at a glance (the Django admin holds the rest)."""

from django.contrib.auth.decorators import user_passes_test
from django.shortcuts import render
from django.views.decorators.http import require_GET

from deployments import selectors
from tenants.permissions import ui_allows


# Anyone else is sent to the admin's login, as Django's own staff pages do, so staff can switch accounts.
@user_passes_test(ui_allows("host.view"), login_url="admin:login")
@require_GET
def host_list(request):
    return render(request, "console/hosts.html", {"hosts": selectors.host_list()})
