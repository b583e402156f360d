"""API views of tenants, members, tokens and the audit trail."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from tenants import selectors, services
from tenants.api import serializers as s
from tenants.api.base import TenantScopedViewSet
from tenants.models import Membership, Scope, Tenant
from tenants.permissions import caller_scopes, token_of


class _UserScopePermission(BasePermission):
    """Routes outside a tenant: the caller needs the scopes in `scope_map` (a token narrows them)."""

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        needed = view.scope_map.get(request.method, [Scope.ADMIN])
        held = caller_scopes(request, None)
        return all(scope in held for scope in needed)


def _roles_for(user) -> dict[int, str]:
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


class TenantViewSet(viewsets.GenericViewSet):
    """Tenants the caller belongs to; creating one makes the caller its owner."""

    permission_classes = [_UserScopePermission]
    scope_map = {"GET": ["read"], "POST": ["write"], "PATCH": ["admin"], "DELETE": ["admin"]}
    lookup_field = "slug"
    lookup_url_kwarg = "tenant"
    serializer_class = s.TenantOutput

    def _visible(self):
        tenants = selectors.tenant_list_for(user=self.request.user)
        token = token_of(self.request)
        if token is not None and token.tenant_id is not None:
            tenants = tenants.filter(pk=token.tenant_id)
        return tenants

    def _get(self, slug: str) -> Tenant:
        tenant = self._visible().filter(slug=slug).first()
        if tenant is None or Scope.READ not in caller_scopes(self.request, tenant):
            raise Http404("No such tenant.")
        return tenant

    def _out(self, tenant, **kwargs) -> Response:
        context = {"roles": _roles_for(self.request.user)}
        return Response(s.TenantOutput(tenant, context=context).data, **kwargs)

    def list(self, request):
        page = self.paginate_queryset(self._visible().order_by("-id"))
        data = s.TenantOutput(page, many=True, context={"roles": _roles_for(request.user)}).data
        return self.get_paginated_response(data)

    @extend_schema(request=s.TenantCreateInput, responses={201: s.TenantOutput})
    def create(self, request):
        if token_of(request) is not None and token_of(request).tenant_id is not None:
            raise Http404("A tenant-restricted token cannot create tenants.")
        data = s.TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_create(actor=request.user, **data.validated_data)
        return self._out(tenant, status=status.HTTP_201_CREATED)

    def retrieve(self, request, tenant):
        return self._out(self._get(tenant))

    @extend_schema(request=s.TenantUpdateInput, responses={200: s.TenantOutput})
    def partial_update(self, request, tenant):
        tenant = self._get(tenant)
        self._require(tenant, Scope.ADMIN)
        data = s.TenantUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        name = fields.pop("name", None)
        tenant = services.tenant_update(actor=request.user, tenant=tenant, name=name, quotas=fields)
        return self._out(tenant)

    def destroy(self, request, tenant):
        tenant = self._get(tenant)
        self._require(tenant, Scope.ADMIN)
        if selectors.membership_get(tenant=tenant, user=request.user) is None or (
            selectors.membership_get(tenant=tenant, user=request.user).role != "owner"
        ):
            return Response(
                {"error": {"code": "forbidden", "message": "Only an owner may delete a tenant.", "fields": {}}},
                status=status.HTTP_403_FORBIDDEN,
            )
        services.tenant_delete(actor=request.user, tenant=tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _require(self, tenant: Tenant, scope: str) -> None:
        if scope not in caller_scopes(self.request, tenant):
            self.permission_denied(self.request, message="Your role or token does not allow this.")


class MemberViewSet(TenantScopedViewSet):
    """Members of a tenant and their roles."""

    scope_map = {"GET": ["read"], "POST": ["admin"], "PATCH": ["admin"], "DELETE": ["read"]}
    serializer_class = s.MemberOutput
    lookup_url_kwarg = "username"
    pagination_class = None

    def list(self, request, tenant):
        members = selectors.membership_list(tenant=self.tenant)
        return Response(s.MemberOutput(members, many=True).data)

    @extend_schema(request=s.MemberCreateInput, responses={201: s.MemberOutput})
    def create(self, request, tenant):
        data = s.MemberCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = selectors.user_get_by_username(username=data.validated_data["username"])
        membership = services.member_add(
            actor=request.user, tenant=self.tenant, user=user, role=data.validated_data["role"]
        )
        return Response(s.MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MemberUpdateInput, responses={200: s.MemberOutput})
    def partial_update(self, request, tenant, username):
        membership = selectors.membership_get_by_username(tenant=self.tenant, username=username)
        data = s.MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_update(
            actor=request.user, tenant=self.tenant, membership=membership, **data.validated_data
        )
        return Response(s.MemberOutput(membership).data)

    def destroy(self, request, tenant, username):
        membership = selectors.membership_get_by_username(tenant=self.tenant, username=username)
        # Anyone may leave; removing someone else takes the admin scope.
        if membership.user_id != request.user.pk and Scope.ADMIN not in caller_scopes(request, self.tenant):
            self.permission_denied(request, message="Removing another member needs the admin scope.")
        services.member_remove(actor=request.user, tenant=self.tenant, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens. A token is shown once, when created."""

    permission_classes = [_UserScopePermission]
    scope_map = {"GET": ["read"], "POST": ["admin"], "DELETE": ["read"]}
    serializer_class = s.TokenOutput

    def get_queryset(self):
        return selectors.token_list(user=self.request.user)

    @extend_schema(request=s.TokenCreateInput, responses={201: s.TokenCreatedOutput})
    def create(self, request):
        data = s.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        tenant = None
        if fields.pop("tenant"):
            tenant = selectors.tenant_get_for(user=request.user, slug=data.validated_data["tenant"])
        token, plaintext = services.token_create(
            user=request.user, tenant=tenant, via_token=token_of(request), **fields
        )
        return Response(
            s.TokenCreatedOutput(token, context={"plaintext": plaintext}).data, status=status.HTTP_201_CREATED
        )

    def destroy(self, request, pk):
        try:
            token_id = int(pk)
        except ValueError:
            raise Http404("No such token.") from None
        token = selectors.token_get(user=request.user, token_id=token_id)
        services.token_revoke(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's audit trail, newest first (admins)."""

    scope_map = {"GET": ["admin"]}
    serializer_class = s.AuditEventOutput

    def get_queryset(self):
        return selectors.audit_list(tenant=self.tenant)
