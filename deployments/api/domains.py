"""API of an app's custom domains: list, add, show and remove the hostnames the router serves it under."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Domain
from deployments.services import domains as services
from deployments.services.routes import app_hostname
from portal.api import CursorPagination
from tenants.api.base import TenantScopedViewSet


class DomainOutput(serializers.ModelSerializer):
    wildcard = serializers.SerializerMethodField(help_text='Whether the hostname starts with "*." (names below it).')
    dns_target = serializers.SerializerMethodField(
        help_text="The name to point the hostname at (a CNAME record), where the router serves the app."
    )

    class Meta:
        model = Domain
        # Never the private key; TLS material is not served by this API.
        fields = ["hostname", "wildcard", "dns_target", "created_at"]

    def get_wildcard(self, domain) -> bool:
        return domain.hostname.startswith(services.WILDCARD)

    def get_dns_target(self, domain) -> str:
        return app_hostname(app=domain.app)


class DomainCreateInput(serializers.Serializer):
    hostname = serializers.CharField(
        max_length=300, help_text='A DNS name like "www.example.com", or a wildcard like "*.example.com".'
    )


class DomainPagination(CursorPagination):
    ordering = "hostname"


class DomainViewSet(TenantScopedViewSet):
    """An app's custom domains. Adding or removing one takes the write scope; the router picks it up shortly after."""

    permission_actions = {
        "list": "domain.view",
        "retrieve": "domain.view",
        "create": "domain.add",
        "destroy": "domain.remove",
    }
    serializer_class = DomainOutput
    pagination_class = DomainPagination
    lookup_url_kwarg = "domain"

    def list(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        page = self.paginate_queryset(selectors.domain_list(app=app).select_related("app__tenant"))
        return self.get_paginated_response(DomainOutput(page, many=True).data)

    @extend_schema(request=DomainCreateInput, responses={201: DomainOutput})
    def create(self, request, tenant, app):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        data = DomainCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        domain = services.domain_add(app=app, hostname=data.validated_data["hostname"], actor=request.user)
        return Response(DomainOutput(domain).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, tenant, app, domain):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        return Response(DomainOutput(selectors.domain_get(app=app, hostname=domain)).data)

    def destroy(self, request, tenant, app, domain):
        app = selectors.app_get(tenant=self.tenant, slug=app)
        services.domain_remove(domain=selectors.domain_get(app=app, hostname=domain), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/domains/",
        DomainViewSet.as_view({"get": "list", "post": "create"}),
        name="domain-list",
    ),
    path(
        "tenants/<str:tenant>/apps/<str:app>/domains/<str:domain>/",
        DomainViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="domain-detail",
    ),
]
