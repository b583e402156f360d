"""UI views of tenants: the team list and switcher, team settings, members and roles, the audit trail, the account
page (password) and API tokens.

Writes go through tenants.services, which hold the rules (roles never granted above one's own, the last owner kept);
a refusal comes back as a message on the page.
"""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from portal.errors import ApplicationError, NotFound
from tenants import invitations, selectors, services, two_factor
from tenants.forms import (
    AuditFilterForm,
    LoginForm,
    MemberAddForm,
    MemberInviteForm,
    MemberRoleForm,
    SignUpForm,
    TeamCreateForm,
    TeamRenameForm,
    TeamTwoFactorForm,
    TokenCreateForm,
    TotpConfirmForm,
)
from tenants.models import Role
from tenants.ui import error_text, form_errors, outcome, tenant_for, window

REFUSED = (ApplicationError, ValidationError)


@login_required
@require_GET
def home(request):
    """List the tenants the user belongs to, with the form to create one."""
    page = Paginator(selectors.tenant_list_for(user=request.user), TEAMS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"tenants": page, "page": page, "form": TeamCreateForm()}
    return render(request, "tenants/home.html", context)


@login_required
@require_POST
def team_create(request):
    form = TeamCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No team created. {form_errors(form)}")
        return redirect("home")
    try:
        tenant = services.tenant_create(
            actor=request.user, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"]
        )
    except REFUSED as exc:
        messages.error(request, f"No team created: {error_text(exc)}")
        return redirect("home")
    messages.success(request, f"Created team {tenant.slug}; you are its owner.")
    return redirect("ui-tenant", tenant=tenant.slug)


@login_required
@require_GET
def team_switch(request):
    """Go to the team picked in the header's switcher (a plain GET form, so it works without JavaScript)."""
    slug = request.GET.get("team", "")
    if not slug:
        return redirect("home")  # "All teams…": the home page lists them
    tenant, _ = tenant_for(request, slug, "tenant.view")
    return redirect("ui-tenant", tenant=tenant.slug)


@login_required
@require_http_methods(["GET", "POST"])
def team_settings(request, tenant):
    """Rename the team (admins)."""
    tenant, can = tenant_for(request, tenant, "tenant.view")
    form = TeamRenameForm(initial={"name": tenant.name})
    if request.method == "POST":
        tenant, can = tenant_for(request, tenant.slug, "tenant.rename")
        form = TeamRenameForm(request.POST)
        if form.is_valid():
            try:
                services.tenant_update(actor=request.user, tenant=tenant, name=form.cleaned_data["name"])
            except REFUSED as exc:
                messages.error(request, error_text(exc))
            else:
                messages.success(request, f"Renamed the team to {form.cleaned_data['name']}.")
                return redirect("ui-team-settings", tenant=tenant.slug)
    context = {
        "tenant": tenant,
        "can": can,
        "form": form,
        "two_factor_form": TeamTwoFactorForm(initial={"required": tenant.require_two_factor}),
        "section": "settings",
    }
    return render(request, "tenants/settings.html", context)


@login_required
@require_POST
def team_two_factor(request, tenant):
    """Require two-factor login of the team's members on its pages (owners)."""
    tenant, _ = tenant_for(request, tenant, "tenant.require_two_factor")
    form = TeamTwoFactorForm(request.POST)
    form.is_valid()
    required = bool(form.cleaned_data.get("required"))
    try:
        services.tenant_require_two_factor(actor=request.user, tenant=tenant, required=required)
    except REFUSED as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, "Members now need two-factor login for this team." if required else "Two-factor login is optional."
        )
    return redirect("ui-team-settings", tenant=tenant.slug)


@login_required
@require_GET
def member_list(request, tenant):
    tenant, can = tenant_for(request, tenant, "member.list")
    context = {
        "tenant": tenant,
        "can": can,
        "members": selectors.membership_list(tenant=tenant).order_by("user__username"),
        "roles": Role.choices,
        "form": MemberAddForm(),
        "invite_form": MemberInviteForm(),
        "section": "members",
    }
    return render(request, "tenants/members.html", context)


def _back_to_members(tenant):
    return redirect("ui-members", tenant=tenant.slug)


@login_required
@require_POST
def member_add(request, tenant):
    tenant, _ = tenant_for(request, tenant, "member.add")
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nobody added. {form_errors(form)}")
        return _back_to_members(tenant)
    username, role = form.cleaned_data["username"], form.cleaned_data["role"]
    try:
        user = selectors.user_get_by_username(username=username)
    except NotFound:
        messages.error(request, f"There is no user {username!r}: ask them to sign up, or invite them by email.")
        return _back_to_members(tenant)
    call = partial(services.member_add, actor=request.user, tenant=tenant, user=user, role=role)
    outcome(request, call, f"Added {username} as {role}.")
    return _back_to_members(tenant)


@login_required
@require_POST
def member_update(request, tenant, username):
    tenant, _ = tenant_for(request, tenant, "member.update")
    membership = selectors.membership_get_by_username(tenant=tenant, username=username)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _back_to_members(tenant)
    role = form.cleaned_data["role"]
    call = partial(services.member_update, actor=request.user, tenant=tenant, membership=membership, role=role)
    outcome(request, call, f"{username} is now {role}.")
    return _back_to_members(tenant)


@login_required
@require_POST
def member_remove(request, tenant, username):
    # Like the API: any member may leave; removing someone else takes member.remove, and the service checks rank.
    tenant, can = tenant_for(request, tenant, "member.leave")
    membership = selectors.membership_get_by_username(tenant=tenant, username=username)
    if membership.user_id != request.user.pk and not can.allows("member.remove"):
        raise Http404("Your role does not allow this.")
    try:
        services.member_remove(actor=request.user, tenant=tenant, membership=membership)
    except REFUSED as exc:
        messages.error(request, error_text(exc))
        return _back_to_members(tenant)
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {tenant.name}.")
        return redirect("home")
    messages.success(request, f"Removed {username}.")
    return _back_to_members(tenant)


@login_required
@require_POST
def member_invite(request, tenant):
    """Email an invitation link with a role (admins); the console shows the email when no SMTP server is set."""
    tenant, _ = tenant_for(request, tenant, "member.invite")
    form = MemberInviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No invitation sent. {form_errors(form)}")
        return _back_to_members(tenant)
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]
    try:
        invitations.invitation_send(
            actor=request.user,
            tenant=tenant,
            email=email,
            role=role,
            link_for=lambda signed: request.build_absolute_uri(reverse("ui-invitation-accept", args=[signed])),
        )
    except REFUSED as exc:
        messages.error(request, f"No invitation sent: {error_text(exc)}")
    else:
        days = settings.BERTH_INVITATION_DAYS
        messages.success(
            request, f"Invited {email} as {role}; the link works for {days} day{'s' if days != 1 else ''}."
        )
    return _back_to_members(tenant)


@require_http_methods(["GET", "POST"])
def invitation_accept(request, signed):
    """Join a team from an invitation link: a logged-in user joins; a new one picks a username and a password."""
    try:
        invitation = invitations.invitation_read(signed=signed)
    except REFUSED as exc:
        return render(request, "tenants/invitation.html", {"error": error_text(exc)}, status=410)
    user = request.user if request.user.is_authenticated else None
    form = SignUpForm(request.POST or None) if user is None else None
    if request.method == "POST":
        if user is None:
            if not form.is_valid():
                return render(request, "tenants/invitation.html", {"invitation": invitation, "form": form})
            user = form.save(commit=False)
            user.email = invitation.email
            user.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            invitations.invitation_accept(signed=signed, user=user)
        except REFUSED as exc:
            messages.error(request, error_text(exc))
            return redirect("home")
        messages.success(request, f"You joined {invitation.tenant.name} as {invitation.role}.")
        return redirect("ui-tenant", tenant=invitation.tenant.slug)
    return render(request, "tenants/invitation.html", {"invitation": invitation, "form": form})


AUDIT_PAGE_SIZE = 50
TEAMS_PAGE_SIZE = 50


@login_required
@require_GET
def audit_list(request, tenant):
    """The audit trail (admins, as in the API), filtered by actor, action and date, 50 events a page."""
    tenant, can = tenant_for(request, tenant, "audit.list")
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_search(
        tenant=tenant,
        actor=filters.get("actor", ""),
        action=filters.get("action", ""),
        since=filters.get("since"),
        until=filters.get("until"),
    )
    # No COUNT: a tenant's audit trail only grows, and counting it cost more than reading the page.
    page = window(events, request.GET.get("page"), AUDIT_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tenant": tenant,
        "can": can,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "section": "audit",
    }
    return render(request, "tenants/audit.html", context)


class LoginView(auth_views.LoginView):
    """Log in with a password, and a TOTP code when the account has two-factor login on."""

    template_name = "tenants/login.html"
    authentication_form = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        device = getattr(form.get_user(), "otp_device", None)
        if device is not None:
            otp_login(self.request, device)
        return response


def _account_page(request, *, password_form=None, totp_form=None, status=200):
    pending = two_factor.totp_pending(user=request.user)
    context = {
        "form": password_form or PasswordChangeForm(request.user),
        "totp_form": totp_form or TotpConfirmForm(),
        "totp_on": two_factor.totp_confirmed(user=request.user) is not None,
        "totp_pending": pending,
        "totp_secret": two_factor.totp_secret(pending) if pending else "",
        "totp_qr": two_factor.totp_qr_svg(pending) if pending else "",
        "verified": request.user.is_verified(),
    }
    response = render(request, "tenants/account.html", context, status=status)
    if pending:
        response["Cache-Control"] = "no-store"  # the page carries a key
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account(request):
    """The user's account: change the password (the session stays logged in), and two-factor login."""
    if request.method == "GET":
        return _account_page(request)
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, "Your password was changed.")
        return redirect("ui-account")
    return _account_page(request, password_form=form)


@login_required
@require_POST
def account_two_factor(request):
    """Start, confirm or turn off two-factor login (`action` start | confirm | off)."""
    action = request.POST.get("action", "")
    if action == "start":
        two_factor.totp_start(user=request.user)
        return redirect(reverse("ui-account") + "#two-factor")
    form = TotpConfirmForm(request.POST)
    if not form.is_valid() or action not in ("confirm", "off"):
        return _account_page(request, totp_form=form)
    try:
        if action == "confirm":
            device = two_factor.totp_confirm(user=request.user, token=form.cleaned_data["token"])
            otp_login(request, device)
            messages.success(request, "Two-factor login is on: from now on, logging in takes a code too.")
        else:
            two_factor.totp_remove(user=request.user, token=form.cleaned_data["token"])
            messages.success(request, "Two-factor login is off.")
    except REFUSED as exc:
        messages.error(request, error_text(exc))
    return redirect(reverse("ui-account") + "#two-factor")


NEW_TOKEN_KEY = "berth_new_token"  # noqa: S105 - the session key the new token waits under, not a secret


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """The user's API tokens; a POST creates one, and the page after it shows its value this once.

    The value waits in the session between the POST and the GET that shows it (and removes it), so a reload neither
    shows it again nor creates a second token.
    """
    tenants = selectors.tenant_list_for(user=request.user)
    form = TokenCreateForm(request.POST or None, tenants=tenants)
    if request.method == "POST" and form.is_valid():
        slug = form.cleaned_data["tenant"]
        tenant = tenant_for(request, slug, "tenant.view")[0] if slug else None
        try:
            token, plaintext = services.token_create(
                user=request.user,
                scopes=form.cleaned_data["scopes"],
                name=form.cleaned_data["name"],
                tenant=tenant,
                expires_at=form.expires_at(),
            )
        except REFUSED as exc:
            messages.error(request, f"No token created: {error_text(exc)}")
        else:
            request.session[NEW_TOKEN_KEY] = {"id": token.pk, "plaintext": plaintext}
            return redirect("ui-tokens")
    new = request.session.pop(NEW_TOKEN_KEY, None) if request.method == "GET" else None
    tokens = selectors.token_list(user=request.user).order_by("-created_at")
    context = {
        "tokens": tokens,
        "form": form if request.method == "POST" else TokenCreateForm(tenants=tenants),
        "new_token": next((t for t in tokens if new and t.pk == new["id"]), None),
        "plaintext": new["plaintext"] if new else "",
    }
    response = render(request, "tenants/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, token_id):
    token = selectors.token_get(user=request.user, token_id=token_id)
    services.token_revoke(actor=request.user, token=token)
    messages.success(request, f"Revoked {token.name or token.prefix}.")
    return redirect("ui-tokens")
