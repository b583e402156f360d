"""UI views of tenants."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from tenants.selectors import tenant_list_for


@login_required
def home(request):
    """List the tenants the user belongs to."""
    return render(request, "tenants/home.html", {"tenants": tenant_list_for(user=request.user)})
