"""A team's webhooks: the list with a create form (the signing secret shown once, in the answer to the create), one
webhook's deliveries with redelivery, and deletion. Writes go through services/webhooks.py, as the API's do."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from deployments import selectors
from deployments.forms import WebhookForm
from deployments.services import webhooks as services
from portal.errors import ApplicationError
from tenants.ui import error_text, form_errors, tenant_for

DELIVERIES_SHOWN = 50


def _list_page(request, tenant, can, *, form=None, created=None, secret="", status=200):
    context = {
        "tenant": tenant,
        "can": can,
        "section": "webhooks",
        "webhooks": selectors.webhook_list(tenant=tenant),
        "form": form or WebhookForm(),
        "created": created,
        "secret": secret,
    }
    response = render(request, "deployments/webhooks.html", context, status=status)
    if secret:
        response["Cache-Control"] = "no-store"  # the one answer that carries the secret stays in no cache
    return response


@login_required
@require_GET
def webhook_list(request, tenant):
    tenant, can = tenant_for(request, tenant, "webhook.view")
    return _list_page(request, tenant, can)


@login_required
@require_POST
def webhook_create(request, tenant):
    tenant, can = tenant_for(request, tenant, "webhook.manage")
    form = WebhookForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _list_page(request, tenant, can, form=form, status=400)
    try:
        webhook, secret = services.webhook_create(tenant=tenant, actor=request.user, **form.cleaned_data)
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
        return _list_page(request, tenant, can, form=form, status=400)
    return _list_page(request, tenant, can, created=webhook, secret=secret)


@login_required
@require_GET
def webhook_detail(request, tenant, webhook):
    tenant, can = tenant_for(request, tenant, "webhook.view")
    webhook = selectors.webhook_get(tenant=tenant, pk=webhook)
    context = {
        "tenant": tenant,
        "can": can,
        "section": "webhooks",
        "webhook": webhook,
        "deliveries": selectors.delivery_list(webhook=webhook)[:DELIVERIES_SHOWN],
    }
    return render(request, "deployments/webhook.html", context)


@login_required
@require_POST
def webhook_redeliver(request, tenant, webhook, delivery):
    tenant, _ = tenant_for(request, tenant, "webhook.manage")
    webhook = selectors.webhook_get(tenant=tenant, pk=webhook)
    delivery = selectors.delivery_get(webhook=webhook, pk=delivery)
    try:
        again = services.delivery_redeliver(delivery=delivery, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Queued {again.event} again (delivery {again.pk}).")
    return redirect("ui-webhook", tenant=tenant.slug, webhook=webhook.pk)


@login_required
@require_POST
def webhook_delete(request, tenant, webhook):
    tenant, _ = tenant_for(request, tenant, "webhook.manage")
    webhook = selectors.webhook_get(tenant=tenant, pk=webhook)
    services.webhook_delete(webhook=webhook, actor=request.user)
    messages.success(request, f"Deleted the webhook to {webhook.url}.")
    return redirect("ui-webhooks", tenant=tenant.slug)
