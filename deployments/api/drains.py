"""API of an app's log drains: list (with what each delivered and dropped), add, remove."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Drain
from deployments.services import drains as services
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet


class DrainOutput(serializers.ModelSerializer):
    class Meta:
        model = Drain
        fields = ["id", "url", "delivered", "dropped", "last_error", "created_at"]


class DrainInput(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="syslog://host:port, syslog+tls://host:port or https://...")
    ca_certificate = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="PEM of a CA to trust for this receiver."
    )


class DrainPagination(CursorPagination):
    ordering = "id"


class DrainViewSet(TenantScopedViewSet):
    """An app's drains; adding or removing one takes the admin scope, since its lines then leave the platform."""

    permission_actions = {"list": "drain.view", "create": "drain.manage", "destroy": "drain.manage"}
    serializer_class = DrainOutput
    pagination_class = DrainPagination

    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        page = self.paginate_queryset(selectors.drain_list(app=app))
        return self.get_paginated_response(DrainOutput(page, many=True).data)

    @extend_schema(request=DrainInput, responses={201: DrainOutput})
    def create(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = DrainInput(data=request.data)
        data.is_valid(raise_exception=True)
        drain = services.drain_add(app=app, actor=request.user, **data.validated_data)
        return Response(DrainOutput(drain).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, tenant, app, drain):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        services.drain_remove(drain=selectors.drain_get(app=app, pk=drain), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/drains/",
        DrainViewSet.as_view({"get": "list", "post": "create"}),
        name="drain-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/drains/<str:drain>/",
        DrainViewSet.as_view({"delete": "destroy"}),
        name="drain-detail",
    ),
]
