"""Forms of the team, member, token and account pages: shapes only, the services decide what is allowed."""

from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils import timezone
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin

from tenants.models import DNS_LABEL, Role, Scope

TOKEN_EXPIRY_CHOICES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]


class TeamCreateForm(forms.Form):
    slug = forms.CharField(
        label="Team slug", max_length=40, validators=[DNS_LABEL], help_text="Lowercase letters, digits and hyphens."
    )
    name = forms.CharField(label="Display name", max_length=100, required=False)


class TeamRenameForm(forms.Form):
    name = forms.CharField(label="Display name", max_length=100)


class MemberAddForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.DEVELOPER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class TokenCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, required=False, help_text="What the token is for.")
    scopes = forms.MultipleChoiceField(
        label="Scopes", choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ]
    )
    tenant = forms.ChoiceField(label="Restrict to team", required=False)
    expires_in = forms.ChoiceField(label="Expires", choices=TOKEN_EXPIRY_CHOICES, initial="90", required=False)

    def __init__(self, *args, tenants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].choices = [("", "Any of my teams"), *((t.slug, t.name) for t in tenants)]

    def expires_at(self):
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label="Actor", max_length=150, required=False)
    action = forms.CharField(label="Action", max_length=64, required=False, help_text="e.g. release or config.reveal")
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.DEVELOPER)


class SignUpForm(UserCreationForm):
    """A new account from an invitation: a username and a password; the email is the invitation's."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class LoginForm(OTPAuthenticationFormMixin, AuthenticationForm):
    """Username and password, and the code of the authenticator app for a user who turned two-factor login on."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        label="Code from your authenticator app",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only when two-factor login is on for your account.",
    )
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password did not match.",
    }
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": "Two-factor login is on for this account: type the code from your authenticator app.",
        "invalid_token": "That code is not right (or was used already): type the current one.",
    }

    def _chosen_device(self, user):
        # The page has no device picker: a user has one authenticator app, the form checks its code.
        return super()._chosen_device(user) or next(iter(devices_for_user(user)), None)

    def clean(self):
        super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user):
            self.clean_otp(user)
        return self.cleaned_data


class TotpConfirmForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TeamTwoFactorForm(forms.Form):
    required = forms.BooleanField(label="Members must log in with two-factor", required=False)
