"""API views of tenants, members, tokens and the audit trail."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from portal.errors import Invalid, NotFound
from tenants import selectors, services
from tenants.api import serializers as s
from tenants.api.base import TenantScopedViewSet
from tenants.models import Role, Scope
from tenants.permissions import caller_scopes, staff_allows, tenant_role, token_of

TENANT_PARAM = OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="The tenant's slug.")
USERNAME_PARAM = OpenApiParameter("username", str, OpenApiParameter.PATH, description="The member's username.")
TOKEN_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The token's id.")


class _UserScopePermission(BasePermission):
    """Routes outside a tenant: the caller needs the scopes in `scope_map` (a token narrows them)."""

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        needed = view.scope_map.get(request.method, [Scope.ADMIN])
        held = caller_scopes(request, None)
        return all(scope in held for scope in needed)


def _roles_for(user) -> dict[int, str]:
    return {membership.tenant_id: membership.role for membership in selectors.membership_list_for(user=user)}


class TenantViewSet(viewsets.GenericViewSet):
    """Tenants the caller belongs to (staff: every tenant); creating one makes the caller its owner."""

    permission_classes = [_UserScopePermission]
    scope_map = {"GET": ["read"], "POST": ["write"]}
    serializer_class = s.TenantOutput

    def list(self, request):
        tenants = selectors.tenant_list_for(user=request.user)
        token = token_of(request)
        if token is not None and token.tenant_id is not None:
            tenants = tenants.filter(pk=token.tenant_id)
        page = self.paginate_queryset(tenants)
        data = s.TenantOutput(page, many=True, context={"roles": _roles_for(request.user)}).data
        return self.get_paginated_response(data)

    @extend_schema(request=s.TenantCreateInput, responses={201: s.TenantOutput})
    def create(self, request):
        token = token_of(request)
        if token is not None and token.tenant_id is not None:
            self.permission_denied(request, message="A tenant-restricted token cannot create tenants.")
        data = s.TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_create(actor=request.user, **data.validated_data)
        out = s.TenantOutput(tenant, context={"roles": {tenant.id: Role.OWNER}})
        return Response(out.data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[TENANT_PARAM])
class TenantDetailViewSet(TenantScopedViewSet):
    """One tenant: members read it, admins rename it, staff change its quotas, owners delete it."""

    # PATCH and DELETE look deeper in the action: quotas are for staff, who only read tenants otherwise.
    scope_map = {"GET": ["read"], "PATCH": ["read"], "DELETE": ["admin"]}
    serializer_class = s.TenantOutput

    def _out(self, tenant) -> Response:
        role = tenant_role(self.request, tenant)
        return Response(s.TenantOutput(tenant, context={"roles": {tenant.id: role}}).data)

    def retrieve(self, request, tenant):
        return self._out(self.tenant)

    @extend_schema(request=s.TenantUpdateInput, responses={200: s.TenantOutput})
    def partial_update(self, request, tenant):
        data = s.TenantUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        quotas = dict(data.validated_data)
        name = quotas.pop("name", None)
        if quotas and not staff_allows(request, Scope.ADMIN):
            self.permission_denied(request, message="Only platform staff may change quotas.")
        if (name is not None or not quotas) and Scope.ADMIN not in caller_scopes(request, self.tenant):
            self.permission_denied(request, message="Renaming a tenant needs the admin scope.")
        updated = services.tenant_update(actor=request.user, tenant=self.tenant, name=name, quotas=quotas)
        return self._out(updated)

    @extend_schema(responses={204: None})
    def destroy(self, request, tenant):
        if tenant_role(request, self.tenant) != Role.OWNER:
            self.permission_denied(request, message="Only an owner may delete a tenant.")
        services.tenant_delete(actor=request.user, tenant=self.tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[TENANT_PARAM])
class MemberViewSet(TenantScopedViewSet):
    """Members of a tenant and their roles."""

    # Anyone may leave (DELETE of oneself); removing someone else takes `admin`, checked in destroy().
    scope_map = {"GET": ["read"], "POST": ["admin"], "PATCH": ["admin"], "DELETE": ["read"]}
    serializer_class = s.MemberOutput

    def list(self, request, tenant):
        page = self.paginate_queryset(selectors.membership_list(tenant=self.tenant))
        return self.get_paginated_response(s.MemberOutput(page, many=True).data)

    @extend_schema(request=s.MemberCreateInput, responses={201: s.MemberOutput})
    def create(self, request, tenant):
        data = s.MemberCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = selectors.user_get_by_username(username=data.validated_data["username"])
        except NotFound:
            raise Invalid("No such user.", fields={"username": ["No such user."]}) from None
        membership = services.member_add(
            actor=request.user, tenant=self.tenant, user=user, role=data.validated_data["role"]
        )
        return Response(s.MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[USERNAME_PARAM], request=s.MemberUpdateInput, responses={200: s.MemberOutput})
    def partial_update(self, request, tenant, username):
        membership = selectors.membership_get_by_username(tenant=self.tenant, username=username)
        data = s.MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_update(
            actor=request.user, tenant=self.tenant, membership=membership, **data.validated_data
        )
        return Response(s.MemberOutput(membership).data)

    @extend_schema(parameters=[USERNAME_PARAM], responses={204: None})
    def destroy(self, request, tenant, username):
        membership = selectors.membership_get_by_username(tenant=self.tenant, username=username)
        if membership.user_id != request.user.pk and Scope.ADMIN not in caller_scopes(request, self.tenant):
            self.permission_denied(request, message="Removing another member needs the admin scope.")
        services.member_remove(actor=request.user, tenant=self.tenant, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens. A token is shown once, when created.

    A tenant-restricted token sees and manages only the tokens restricted to the same tenant. Any token may revoke
    itself; revoking another one takes `admin`.
    """

    permission_classes = [_UserScopePermission]
    scope_map = {"GET": ["read"], "POST": ["admin"], "DELETE": ["read"]}
    serializer_class = s.TokenOutput

    def _restricted_to(self) -> int | None:
        token = token_of(self.request)
        return token.tenant_id if token is not None else None

    def get_queryset(self):
        return selectors.token_list(user=self.request.user, restricted_to=self._restricted_to())

    @extend_schema(request=s.TokenCreateInput, responses={201: s.TokenCreatedOutput})
    def create(self, request):
        data = s.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        slug = fields.pop("tenant")
        tenant = None
        if slug:
            tenant = selectors.tenant_get_for(user=request.user, slug=slug)
            if self._restricted_to() not in (None, tenant.id):
                raise Http404("No such tenant.")
        token, plaintext = services.token_create(
            user=request.user, tenant=tenant, via_token=token_of(request), **fields
        )
        return Response(
            s.TokenCreatedOutput(token, context={"plaintext": plaintext}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(parameters=[TOKEN_PARAM], responses={204: None})
    def destroy(self, request, pk):
        try:
            token_id = int(pk)
        except ValueError:
            raise Http404("No such token.") from None
        token = selectors.token_get(user=request.user, token_id=token_id, restricted_to=self._restricted_to())
        current = token_of(request)
        if (current is None or current.pk != token.pk) and Scope.ADMIN not in caller_scopes(request, None):
            self.permission_denied(request, message="Revoking another token needs the admin scope.")
        services.token_revoke(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[TENANT_PARAM])
class AuditViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's audit trail, newest first (admins)."""

    scope_map = {"GET": ["admin"]}
    serializer_class = s.AuditEventOutput

    def get_queryset(self):
        return selectors.audit_list(tenant=self.tenant)
