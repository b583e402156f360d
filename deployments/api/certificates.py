"""API of a custom domain's certificate: upload a PEM chain and key, order one through ACME, or remove it.

The certificate shows in the domain's representation (`GET .../domains/{domain}/`); its private key never does.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments import selectors
from deployments.models import Certificate
from deployments.services import certificates as services
from tenants.api.base import TenantScopedViewSet

PEM_FIELD_LIMIT = services.MAX_PEM_CHARS + 1024


class CertificateOutput(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        # Never the private key; the chain is the router's business.
        fields = ["source", "state", "reason", "names", "issuer", "not_before", "not_after", "updated_at"]


class CertificateInput(serializers.Serializer):
    certificate = serializers.CharField(
        required=False, trim_whitespace=False, max_length=PEM_FIELD_LIMIT, help_text="The PEM chain, the leaf first."
    )
    private_key = serializers.CharField(
        required=False, trim_whitespace=False, max_length=PEM_FIELD_LIMIT, help_text="The leaf's key in PEM."
    )
    acme = serializers.BooleanField(required=False, help_text="Order the certificate from the ACME directory instead.")

    def validate(self, attrs):
        pem = [name for name in ("certificate", "private_key") if name in attrs]
        if attrs.get("acme") and pem:
            raise serializers.ValidationError({"acme": 'Give either {"acme": true} or a certificate and its key.'})
        missing = [name for name in ("certificate", "private_key") if name not in pem]
        if not attrs.get("acme") and missing:
            raise serializers.ValidationError({missing[0]: 'Give "certificate" and "private_key" in PEM, or "acme".'})
        return attrs


class CertificateViewSet(TenantScopedViewSet):
    """A custom domain's certificate. Uploading, ordering or removing one takes the write scope."""

    permission_actions = {"update": "certificate.set", "destroy": "certificate.remove"}
    metadata_action = "domain.view"
    serializer_class = CertificateOutput

    @extend_schema(request=CertificateInput, responses={200: CertificateOutput, 202: CertificateOutput})
    def update(self, request, tenant, app, domain):
        domain = selectors.domain_get(app=selectors.app_get(tenant=self.tenant, slug=app), hostname=domain)
        data = CertificateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("acme"):
            cert = services.certificate_acme_request(domain=domain, actor=request.user)
            return Response(CertificateOutput(cert).data, status=status.HTTP_202_ACCEPTED)
        cert = services.certificate_upload(
            domain=domain,
            certificate=data.validated_data["certificate"],
            private_key=data.validated_data["private_key"],
            actor=request.user,
        )
        return Response(CertificateOutput(cert).data)

    def destroy(self, request, tenant, app, domain):
        domain = selectors.domain_get(app=selectors.app_get(tenant=self.tenant, slug=app), hostname=domain)
        services.certificate_remove(domain=domain, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path(
        "tenants/<str:tenant>/apps/<str:app>/domains/<str:domain>/certificate/",
        CertificateViewSet.as_view({"put": "update", "delete": "destroy"}),
        name="domain-certificate",
    ),
]
