"""API of a tenant's webhooks: subscribe, change, remove, and read or redeliver each delivery attempt."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Delivery, Webhook
from deployments.services import webhooks as services
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        # Never the secret: it is shown once, in the answer to the creation.
        fields = ["id", "url", "events", "active", "created_at", "updated_at"]


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(help_text="Signs every delivery; shown this once.")

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=services.EVENTS), allow_empty=False)
    active = serializers.BooleanField(required=False)


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "event_id",
            "attempt",
            "redelivery_of",
            "status",
            "response_code",
            "response_excerpt",
            "error",
            "duration_ms",
            "scheduled_at",
            "created_at",
            "finished_at",
        ]


class IdPagination(CursorPagination):
    ordering = "-id"


class WebhookViewSet(TenantScopedViewSet):
    """A tenant's webhooks; changing them takes the admin scope, since they send the tenant's events outside."""

    permission_actions = {
        "list": "webhook.view",
        "retrieve": "webhook.view",
        "create": "webhook.manage",
        "partial_update": "webhook.manage",
        "destroy": "webhook.manage",
    }
    serializer_class = WebhookOutput
    pagination_class = IdPagination

    def list(self, request, tenant):
        page = self.paginate_queryset(selectors.webhook_list(tenant=self.tenant))
        return self.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedOutput})
    def create(self, request, tenant):
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        webhook, secret = services.webhook_create(
            tenant=self.tenant, url=values["url"], events=values["events"], actor=request.user
        )
        webhook.secret = secret
        return Response(WebhookCreatedOutput(webhook).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, tenant, webhook):
        return Response(WebhookOutput(selectors.webhook_get(tenant=self.tenant, pk=webhook)).data)

    @extend_schema(request=WebhookInput(partial=True), responses={200: WebhookOutput})
    def partial_update(self, request, tenant, webhook):
        webhook = selectors.webhook_get(tenant=self.tenant, pk=webhook)
        data = WebhookInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_update(webhook=webhook, actor=request.user, **data.validated_data)
        return Response(WebhookOutput(webhook).data)

    def destroy(self, request, tenant, webhook):
        services.webhook_delete(webhook=selectors.webhook_get(tenant=self.tenant, pk=webhook), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryViewSet(TenantScopedViewSet):
    """Every attempt of every delivery of a webhook, newest first; a redelivery takes the admin scope."""

    permission_actions = {"list": "webhook.view", "redeliver": "webhook.manage"}
    serializer_class = DeliveryOutput
    pagination_class = IdPagination

    def list(self, request, tenant, webhook):
        webhook = selectors.webhook_get(tenant=self.tenant, pk=webhook)
        page = self.paginate_queryset(selectors.delivery_list(webhook=webhook))
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)

    @extend_schema(request=None, responses={201: DeliveryOutput})
    def redeliver(self, request, tenant, webhook, delivery):
        webhook = selectors.webhook_get(tenant=self.tenant, pk=webhook)
        delivery = selectors.delivery_get(webhook=webhook, pk=delivery)
        again = services.delivery_redeliver(delivery=delivery, actor=request.user)
        return Response(DeliveryOutput(again).data, status=status.HTTP_201_CREATED)


WEBHOOKS = "tenants/<str:tenant>/webhooks/"

urlpatterns = [
    path(WEBHOOKS, WebhookViewSet.as_view({"get": "list", "post": "create"}), name="webhook-list"),
    path(
        WEBHOOKS + "<str:webhook>/",
        WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="webhook-detail",
    ),
    path(WEBHOOKS + "<str:webhook>/deliveries/", DeliveryViewSet.as_view({"get": "list"}), name="delivery-list"),
    path(
        WEBHOOKS + "<str:webhook>/deliveries/<str:delivery>/redeliver/",
        DeliveryViewSet.as_view({"post": "redeliver"}),
        name="delivery-redeliver",
    ),
]
