"""API views of tenants, members, tokens and the audit trail."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from portal.errors import Invalid, NotFound
from tenants import selectors, services
from tenants.api import serializers as s
from tenants.api.base import TenantScopedViewSet
from tenants.models import Role
from tenants.permissions import ActionGatedMixin, token_of

TENANT_PARAM = OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="The tenant's slug.")
USERNAME_PARAM = OpenApiParameter("username", str, OpenApiParameter.PATH, description="The member's username.")
TOKEN_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The token's id.")


def _roles_for(user) -> dict[int, str]:
    return {membership.tenant_id: membership.role for membership in selectors.membership_list_for(user=user)}


class TenantViewSet(ActionGatedMixin, viewsets.GenericViewSet):
    """Tenants the caller belongs to (staff: every tenant); creating one makes the caller its owner."""

    permission_actions = {"list": "tenant.list", "create": "tenant.create"}
    metadata_action = "tenant.list"
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
        data = s.TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_create(actor=request.user, **data.validated_data)
        out = s.TenantOutput(tenant, context={"roles": {tenant.id: Role.OWNER}})
        return Response(out.data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[TENANT_PARAM])
class TenantDetailViewSet(TenantScopedViewSet):
    """One tenant: members read it, admins rename it, staff change its quotas, owners delete it."""

    # A PATCH renames (admins), changes quotas (staff, who only read tenants otherwise), or both: see the body.
    permission_actions = {
        "retrieve": "tenant.view",
        "partial_update": ("tenant.rename", "tenant.set_quotas"),
        "destroy": "tenant.delete",
    }
    serializer_class = s.TenantOutput

    def _out(self, tenant) -> Response:
        membership = selectors.membership_get(tenant=tenant, user=self.request.user)
        role = Role(membership.role) if membership else None
        return Response(s.TenantOutput(tenant, context={"roles": {tenant.id: role}}).data)

    def retrieve(self, request, tenant):
        return self._out(self.tenant)

    @extend_schema(request=s.TenantUpdateInput, responses={200: s.TenantOutput})
    def partial_update(self, request, tenant):
        data = s.TenantUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        quotas = dict(data.validated_data)
        name = quotas.pop("name", None)
        if quotas:
            self.authorize("tenant.set_quotas")
        if name is not None or not quotas:
            self.authorize("tenant.rename")
        updated = services.tenant_update(actor=request.user, tenant=self.tenant, name=name, quotas=quotas)
        return self._out(updated)

    @extend_schema(responses={204: None})
    def destroy(self, request, tenant):
        services.tenant_delete(actor=request.user, tenant=self.tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[TENANT_PARAM])
class MemberViewSet(TenantScopedViewSet):
    """Members of a tenant and their roles."""

    # A DELETE of oneself is leaving, which any member may; removing someone else takes an admin.
    permission_actions = {
        "list": "member.list",
        "create": "member.add",
        "partial_update": "member.update",
        "destroy": ("member.leave", "member.remove"),
    }
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
        self.authorize("member.leave" if membership.user_id == request.user.pk else "member.remove")
        services.member_remove(actor=request.user, tenant=self.tenant, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenViewSet(ActionGatedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens. A token is shown once, when created.

    A tenant-restricted token sees and manages only the tokens restricted to the same tenant. Any token may revoke
    itself; revoking another one takes `admin`.
    """

    permission_actions = {
        "list": "token.list",
        "create": "token.create",
        "destroy": ("token.revoke_self", "token.revoke"),
    }
    metadata_action = "token.list"
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
        self.authorize("token.revoke_self" if current is not None and current.pk == token.pk else "token.revoke")
        services.token_revoke(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[TENANT_PARAM])
class AuditViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The tenant's audit trail, newest first (admins)."""

    permission_actions = {"list": "audit.list"}
    serializer_class = s.AuditEventOutput

    def get_queryset(self):
        return selectors.audit_list(tenant=self.tenant)
