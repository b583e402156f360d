"""Who may do what: one table of actions, each stating the scope and the least role it needs.

Every gate reads ACTIONS: the API's permission class (views name the action of each of their handlers), the UI
views (`ui_permissions`), the templates (`can.app.deploy`, through `Permissions`), and the WebSocket consumers
(`tenant_readable`). A role grants scopes (ROLE_SCOPES); a token carries a subset of them; on a tenant a caller
needs both the action's scope and at least its role. Staff read every tenant as a viewer would, and alone do the
staff actions (hosts, quotas), a staff token only when unrestricted and holding the scope.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from rest_framework import permissions

from tenants.models import ROLE_RANK, ROLE_SCOPES, ApiToken, Role, Scope, Tenant
from tenants.selectors import membership_get, tenant_get_by_slug

ALL_SCOPES = frozenset(Scope.values)
REFUSED = "Your role or token does not allow this."


@dataclass(frozen=True)
class Need:
    """What an action takes: a scope, and on a tenant the least role (None for an action outside any tenant)."""

    scope: str
    role: str | None = None
    # Platform staff only (a session, or an unrestricted token holding `scope`); `role` is then None.
    staff: bool = False
    # Refused to a token restricted to a tenant (it may act on that tenant only).
    unrestricted: bool = False
    message: str = REFUSED


_READ = Need(Scope.READ, Role.VIEWER)
_WRITE = Need(Scope.WRITE, Role.DEVELOPER)
_DEPLOY = Need(Scope.DEPLOY, Role.DEVELOPER)
_ADMIN = Need(Scope.ADMIN, Role.ADMIN)

ACTIONS: dict[str, Need] = {
    # Outside any tenant: the caller's own tenants and tokens.
    "tenant.list": Need(Scope.READ),
    "tenant.create": Need(Scope.WRITE, unrestricted=True, message="A tenant-restricted token cannot create tenants."),
    "token.list": Need(Scope.READ),
    "token.create": Need(Scope.ADMIN),
    "token.revoke": Need(Scope.ADMIN, message="Revoking another token needs the admin scope."),
    "token.revoke_self": Need(Scope.READ),
    # A tenant and its members.
    "tenant.view": _READ,
    "tenant.rename": Need(Scope.ADMIN, Role.ADMIN, message="Renaming a tenant needs the admin scope."),
    "tenant.set_quotas": Need(Scope.ADMIN, staff=True, message="Only platform staff may change quotas."),
    "tenant.delete": Need(Scope.ADMIN, Role.OWNER, message="Only an owner may delete a tenant."),
    "member.list": _READ,
    "member.add": _ADMIN,
    "member.update": _ADMIN,
    "member.remove": Need(Scope.ADMIN, Role.ADMIN, message="Removing another member needs the admin scope."),
    "member.leave": _READ,
    "member.invite": _ADMIN,  # an email link that makes a member, as member.add does
    "tenant.require_two_factor": Need(
        Scope.ADMIN, Role.OWNER, message="Only an owner may change whether the team requires two-factor login."
    ),
    "audit.list": _ADMIN,
    # Apps and what hangs off them.
    "app.view": _READ,
    "app.create": _WRITE,
    "app.update": _WRITE,
    "app.delete": _ADMIN,
    "app.deploy": _DEPLOY,  # a build from source or an image
    "app.logs": _READ,
    "config.view": _READ,
    "config.update": _WRITE,
    "config.reveal": Need(Scope.ADMIN, Role.ADMIN, message="Revealing a secret takes the admin scope."),
    "release.view": _READ,
    "release.rollback": _DEPLOY,
    "formation.view": _READ,
    "formation.update": _WRITE,
    "build.view": _READ,
    "build.cancel": _DEPLOY,
    "build.clear_cache": _DEPLOY,  # the buildpack cache: the next build starts cold
    "deployment.view": _READ,
    "container.view": _READ,
    "container.restart": _DEPLOY,
    "domain.view": _READ,
    "domain.add": _WRITE,
    "domain.remove": _WRITE,
    "certificate.set": _WRITE,
    "certificate.remove": _WRITE,
    "router.view": _READ,
    "router.update": _WRITE,
    # Reaching out: webhooks and drains send the tenant's events and lines outside, a run executes with its secrets.
    "webhook.view": _READ,
    "webhook.manage": _ADMIN,  # create, change, delete, redeliver
    "drain.view": _READ,
    "drain.manage": _ADMIN,
    "logsink.view": _ADMIN,  # names a cluster and whether it holds credentials
    "logsink.manage": _ADMIN,
    "run.view": _READ,
    "run.create": _DEPLOY,
    "run.attach": _DEPLOY,  # its terminal: only the member who started the run, once
    "container.exec": _DEPLOY,  # a command in a running container, with a tty: admins and developers
    "metrics.view": _READ,
    "usage.view": _READ,
    # The fleet (staff).
    "host.view": Need(Scope.READ, staff=True, message="Only platform staff may do this."),
    "host.manage": Need(Scope.ADMIN, staff=True, message="Only platform staff may do this."),
    # The staff console's pages (sessions only: a page takes no token) and its actions across tenants.
    "console.view": Need(Scope.READ, staff=True, message="Only platform staff may do this."),
    "console.manage": Need(Scope.ADMIN, staff=True, message="Only platform staff may do this."),
    "tenant.suspend": Need(Scope.ADMIN, staff=True, message="Only platform staff may suspend a tenant."),
}


def token_of(request) -> ApiToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiToken) else None


class Permissions:
    """What one caller (a user, by a token or a session when token is None) may do, on `tenant` or outside any.

    Templates read it as `can`: `{% if can.app.deploy %}` asks for the action "app.deploy"; a name that is no
    action raises, so a typo fails the page instead of hiding a button.
    """

    def __init__(self, *, user, token: ApiToken | None = None, tenant: Tenant | None = None):
        self.user = user
        self.token = token
        self.tenant = tenant
        self.authenticated = bool(getattr(user, "is_authenticated", False))
        self.role, self.scopes = self._grant()

    def _grant(self) -> tuple[Role | None, frozenset[str]]:
        """The caller's role on the tenant (staff read as viewers) and the scopes it holds there, or outside."""
        if not self.authenticated:
            return None, frozenset()
        token_scopes = frozenset(self.token.scopes) if self.token is not None else ALL_SCOPES
        if self.tenant is None:
            return None, ALL_SCOPES & token_scopes
        if self.token is not None and self.token.tenant_id not in (None, self.tenant.id):
            return None, frozenset()
        membership = membership_get(tenant=self.tenant, user=self.user)
        role = Role(membership.role) if membership else (Role.VIEWER if self.user.is_staff else None)
        held = ROLE_SCOPES[role] if role else frozenset()
        return role, held & token_scopes

    @property
    def sees_tenant(self) -> bool:
        """Whether the tenant exists for the caller at all (a hidden one answers 404, never 403)."""
        return Scope.READ in self.scopes

    def allows(self, action: str) -> bool:
        need = ACTIONS[action]
        if not self.authenticated:
            return False
        if need.staff:
            token = self.token
            return self.user.is_staff and (token is None or (need.scope in token.scopes and token.tenant_id is None))
        if need.unrestricted and self.token is not None and self.token.tenant_id is not None:
            return False
        if need.role is None:
            return self.tenant is None and need.scope in self.scopes
        if self.role is None:
            return False
        return ROLE_RANK[self.role] >= ROLE_RANK[Role(need.role)] and need.scope in self.scopes

    def __getitem__(self, area: str) -> "_Area":
        if not any(action.startswith(f"{area}.") for action in ACTIONS):
            raise UnknownAction(area)
        return _Area(self, area)


class UnknownAction(LookupError):
    """Not a KeyError on purpose: the template engine would swallow that and render the button as refused."""


class _Area:
    def __init__(self, permissions: Permissions, area: str):
        self.permissions, self.area = permissions, area

    def __getitem__(self, verb: str) -> bool:
        action = f"{self.area}.{verb}"
        if action not in ACTIONS:
            raise UnknownAction(action)
        return self.permissions.allows(action)


def request_permissions(request, tenant: Tenant | None) -> Permissions:
    """What the caller of a request (API or UI) may do on `tenant`."""
    return Permissions(user=request.user, token=token_of(request), tenant=tenant)


def scopes_for(*, user, token: ApiToken | None, tenant: Tenant | None) -> frozenset[str]:
    """The scopes `user` (authenticated by `token`, or by a session when None) holds on `tenant`, or outside."""
    return Permissions(user=user, token=token, tenant=tenant).scopes


def tenant_readable(*, user, token: ApiToken | None, slug: str) -> Tenant | None:
    """The tenant `slug` when `user` (by `token`, or a session) may read it; None for a missing or hidden one alike.

    WebSocket consumers call this with scope["user"] and scope["token"] before showing anything of a tenant.
    """
    tenant = tenant_get_by_slug(slug=slug)
    if tenant is None or not Permissions(user=user, token=token, tenant=tenant).sees_tenant:
        return None
    return tenant


def ui_tenant_gate(request, *, slug: str, action: str) -> Permissions:
    """What the user of a page may do on tenant `slug`, when it may do `action` there; Http404 otherwise.

    A page refuses with 404 both a tenant the user cannot see and an action its role does not allow (a form the
    user was never shown).
    """
    tenant = tenant_get_by_slug(slug=slug)
    can = request_permissions(request, tenant) if tenant is not None else None
    if can is None or not can.sees_tenant:
        raise Http404("No such tenant.")
    if not can.allows(action):
        raise Http404("Your role does not allow this.")
    return can


def ui_allows(action: str):
    """The test of `user_passes_test` for a page outside tenants (the staff console): may the user do `action`?"""
    return lambda user: Permissions(user=user).allows(action)


def template_context(request) -> dict:
    """A context processor: `can`, what the user may do outside tenants; a tenant's page replaces it."""
    return {"can": request_permissions(request, None)}


class ActionPermission(permissions.BasePermission):
    """Allow a request when the caller may do the action its view names for the handler (`permission_actions`).

    `permission_actions` maps a viewset action ("list", "create", "cancel"...) to an entry of ACTIONS, or to a
    tuple of entries when the handler can only tell which one applies once it holds the object or the body: the
    caller must then be allowed one of them, and the handler calls `authorize()` with the one that applies. OPTIONS
    takes `metadata_action`. On a tenant-scoped view (`view.tenant` set), a caller who cannot see the tenant gets
    404, one who can but may not do the action 403.
    """

    message = REFUSED

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        tenant = getattr(view, "tenant", None)
        granted = request_permissions(request, tenant)
        view.permissions = granted
        if tenant is not None and not granted.sees_tenant:
            raise Http404("No such tenant.")
        handler = view.action_map.get(request.method.lower()) if hasattr(view, "action_map") else None
        declared = view.permission_actions.get(handler) if handler else view.metadata_action
        if declared is None:
            return False
        candidates = (declared,) if isinstance(declared, str) else declared
        if any(granted.allows(action) for action in candidates):
            view.unsettled = candidates if len(candidates) > 1 else ()
            return True
        self.message = ACTIONS[candidates[0]].message
        return False


class ActionGatedMixin:
    """Views gated by ActionPermission; `authorize()` settles an action the table left to the handler."""

    permission_classes = [ActionPermission]
    permission_actions: dict[str, str | tuple[str, ...]] = {}
    metadata_action: str | None = None
    permissions: Permissions | None = None
    # The candidates of a handler that has not called authorize() yet.
    unsettled: tuple[str, ...] = ()

    def authorize(self, action: str) -> None:
        """Refuse the request (403) unless the caller may do `action`, one of the handler's candidates."""
        if self.unsettled and action not in self.unsettled:
            raise ImproperlyConfigured(f"{action} is not among {self.unsettled}")
        self.unsettled = ()
        if not self.permissions.allows(action):
            self.permission_denied(self.request, message=ACTIONS[action].message)

    def finalize_response(self, request, response, *args, **kwargs):
        # A handler left to choose its action must have chosen one before answering a success.
        if self.unsettled and response.status_code < 400:
            raise ImproperlyConfigured(f"{type(self).__name__}.{self.action} answered without authorize()")
        return super().finalize_response(request, response, *args, **kwargs)
