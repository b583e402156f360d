"""Forms of the customer pages. They check the shape of what is typed; the services decide what is allowed."""

from django import forms

from deployments.logs.records import valid_cursor
from deployments.models import HealthcheckKind
from deployments.services import router_settings, webhooks


class ArchiveDeployForm(forms.Form):
    """Deploy an uploaded tar or tar.gz archive with a Dockerfile."""

    source = forms.FileField(label="Archive (.tar or .tar.gz with a Dockerfile)")
    dockerfile = forms.CharField(
        label="Dockerfile path", max_length=300, required=False, help_text="Leave empty for ./Dockerfile."
    )


class GitDeployForm(forms.Form):
    """Deploy a git repository at a ref."""

    url = forms.CharField(label="Git repository URL", max_length=1000)
    ref = forms.CharField(label="Branch, tag or commit", max_length=200, initial="main")
    dockerfile = forms.CharField(label="Dockerfile path", max_length=300, required=False)


class ImageDeployForm(forms.Form):
    """Deploy an existing image."""

    image = forms.CharField(label="Image reference", max_length=300)


DEPLOY_FORMS = {"archive": ArchiveDeployForm, "git": GitDeployForm, "image": ImageDeployForm}


class AppDescriptionForm(forms.Form):
    description = forms.CharField(label="Description", max_length=200, required=False)


class AppDeleteForm(forms.Form):
    """Deleting an app asks for its name, typed: the form is valid only when it matches."""

    confirm = forms.CharField(label="Type the app's name to confirm", max_length=40)

    def __init__(self, *args, app_slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.app_slug = app_slug

    def clean_confirm(self):
        if self.cleaned_data["confirm"].strip() != self.app_slug:
            raise forms.ValidationError(f"Type {self.app_slug} exactly; nothing was deleted.")
        return self.cleaned_data["confirm"]


class FormationForm(forms.Form):
    """One process type's formation, in the shape formation_update takes (memory "256m", a health check)."""

    quantity = forms.IntegerField(label="Quantity", min_value=0, max_value=100)
    memory = forms.CharField(label="Memory", max_length=10, help_text='e.g. "256m" or "1g"')
    cpu = forms.DecimalField(label="CPU", min_value=0.01, max_value=64, decimal_places=2)
    healthcheck_kind = forms.ChoiceField(label="Health check", choices=HealthcheckKind.choices)
    healthcheck = forms.CharField(
        label="Path or command", max_length=500, required=False, help_text="An HTTP path like /healthz, or a command."
    )
    healthcheck_timeout = forms.IntegerField(label="Timeout (s)", min_value=1, max_value=600)

    @classmethod
    def for_row(cls, row, data=None):
        initial = {
            "quantity": row.quantity,
            "memory": f"{row.memory_mb}m",
            "cpu": row.cpu,
            "healthcheck_kind": row.healthcheck_kind,
            "healthcheck": row.healthcheck,
            "healthcheck_timeout": row.healthcheck_timeout,
        }
        return cls(data, initial=initial, prefix=row.process_type)

    def values(self) -> dict:
        """The PATCH body entry of this process type."""
        data = self.cleaned_data
        kind, check = data["healthcheck_kind"], data["healthcheck"].strip()
        healthcheck = (
            None if kind == HealthcheckKind.NONE else check if kind == HealthcheckKind.HTTP else {"command": check}
        )
        return {
            "quantity": data["quantity"],
            "memory": data["memory"],
            "cpu": str(data["cpu"]),
            "healthcheck": healthcheck,
            "healthcheck_timeout": data["healthcheck_timeout"],
        }


class ReleaseCommandForm(forms.Form):
    command = forms.CharField(
        label="Release command",
        max_length=2000,
        required=False,
        help_text="Runs once before each rollout; empty for none.",
    )


_DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class LogQueryForm(forms.Form):
    """Filters of the log viewer's history, search and download; times are UTC."""

    q = forms.CharField(label="Text", max_length=200, required=False)
    process = forms.CharField(label="Process", max_length=30, required=False)
    release = forms.IntegerField(label="Release", min_value=1, required=False)
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        input_formats=_DATETIME_LOCAL,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label="To (UTC)",
        required=False,
        input_formats=_DATETIME_LOCAL,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    before = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def clean_before(self):
        before = self.cleaned_data["before"]
        if before and not valid_cursor(before):
            raise forms.ValidationError("Not a log cursor.")
        return before

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError("The start of the range must come before its end.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            key: data.get(key) or None if key in ("release", "since", "until") else data.get(key) or ""
            for key in ("q", "process", "release", "since", "until")
        }


class RouterSettingsForm(forms.Form):
    """An app's router settings; the bounds are the service's (services/router_settings.py), which checks again."""

    max_body_mb = forms.IntegerField(
        label="Body limit (MB)", min_value=1, max_value=router_settings.BOUNDS["max_body_mb"][1]
    )
    connect_timeout_s = forms.IntegerField(
        label="Connect timeout (s)", min_value=1, max_value=router_settings.BOUNDS["connect_timeout_s"][1]
    )
    read_timeout_s = forms.IntegerField(
        label="Read timeout (s)", min_value=1, max_value=router_settings.BOUNDS["read_timeout_s"][1]
    )
    force_https = forms.BooleanField(label="Redirect HTTP to HTTPS (308)", required=False)
    maintenance = forms.BooleanField(label="Maintenance: answer 503 with the page below", required=False)
    maintenance_page = forms.CharField(
        label="Maintenance page (HTML)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    allow = forms.CharField(
        label="IP allowlist",
        required=False,
        help_text="One CIDR range a line, e.g. 203.0.113.0/24; empty: every address.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    @classmethod
    def for_row(cls, row) -> "RouterSettingsForm":
        initial = {name: getattr(row, name) for name in router_settings.FIELDS}
        initial["allow"] = "\n".join(row.allow)
        return cls(initial=initial)

    def values(self) -> dict:
        """The PATCH body of the API, from the cleaned form."""
        values = dict(self.cleaned_data)
        values["allow"] = [line.strip() for line in values["allow"].splitlines() if line.strip()]
        return values


class DrainForm(forms.Form):
    url = forms.CharField(
        label="Drain URL", max_length=500, help_text="syslog://host:port, syslog+tls://host:port or https://..."
    )
    ca_certificate = forms.CharField(
        label="CA certificate (PEM, optional)", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class WebhookForm(forms.Form):
    url = forms.URLField(label="Receiver URL", max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(event, event) for event in webhooks.EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )
