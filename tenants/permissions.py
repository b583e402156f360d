"""Who may do what: roles map to scopes, a token narrows them, each view declares what a method needs."""

from django.http import Http404
from rest_framework import permissions

from tenants.models import ApiToken, Role, Scope, Tenant
from tenants.selectors import membership_get, tenant_get_by_slug

ALL_SCOPES = frozenset(Scope.values)


def token_of(request) -> ApiToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


def scopes_for(*, user, token: ApiToken | None, tenant: Tenant | None) -> frozenset[str]:
    """The scopes `user` (authenticated by `token`, or by a session when None) holds on `tenant`.

    Outside any tenant (tenant=None) a session holds every scope and a token its own. On a tenant, a session holds
    its role's scopes; a token holds the intersection of its own scopes with its user's current role, and nothing
    on a tenant other than the one it is restricted to. Staff read every tenant. WebSocket consumers call this
    with scope["user"] and scope["token"].
    """
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if tenant is None:
        held = ALL_SCOPES
    else:
        if token is not None and token.tenant_id is not None and token.tenant_id != tenant.id:
            return frozenset()
        membership = membership_get(tenant=tenant, user=user)
        held = membership.scopes if membership else frozenset()
        if user.is_staff:
            held = held | {Scope.READ}
    if token is not None:
        held = held & frozenset(token.scopes)
    return frozenset(held)


def caller_scopes(request, tenant: Tenant | None) -> frozenset[str]:
    """The scopes the caller of an API request holds on `tenant` (see scopes_for)."""
    return scopes_for(user=request.user, token=token_of(request), tenant=tenant)


def tenant_readable(*, user, token: ApiToken | None, slug: str) -> Tenant | None:
    """The tenant `slug` when `user` (by `token`, or a session) may read it; None for a missing or hidden one alike.

    WebSocket consumers call this with scope["user"] and scope["token"] before showing anything of a tenant.
    """
    tenant = tenant_get_by_slug(slug=slug)
    if tenant is None or Scope.READ not in scopes_for(user=user, token=token, tenant=tenant):
        return None
    return tenant


def tenant_role(request, tenant: Tenant) -> Role | None:
    membership = membership_get(tenant=tenant, user=request.user)
    return Role(membership.role) if membership else None


class ScopePermission(permissions.BasePermission):
    """Require the scopes the view declares in `scope_map` for the request method.

    On a tenant-scoped view, a caller with no scope at all on the tenant gets 404 (the tenant does not exist for
    them); a caller who can see the tenant but lacks the scope gets 403.
    """

    message = "Your role or token does not allow this."

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        tenant = getattr(view, "tenant", None)
        held = caller_scopes(request, tenant)
        if tenant is not None and Scope.READ not in held:
            raise Http404("No such tenant.")
        needed = view.scope_map.get(request.method, view.scope_map.get("*", [Scope.ADMIN]))
        return all(scope in held for scope in needed)


def staff_allows(request, scope: str) -> bool:
    """Whether the caller is platform staff acting with `scope`: a session, or an unrestricted token holding it."""
    user = request.user
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    token = token_of(request)
    return token is None or (scope in token.scopes and token.tenant_id is None)


class StaffPermission(permissions.BasePermission):
    """Staff only; a staff token needs `read` to read and `admin` to change anything."""

    message = "Only platform staff may do this."

    def has_permission(self, request, view) -> bool:
        needed = Scope.READ if request.method in permissions.SAFE_METHODS else Scope.ADMIN
        return staff_allows(request, needed)
