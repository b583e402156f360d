"""The console's forms: they check shapes only; the services decide the rest."""

from django import forms

from deployments.models import BuildStatus, DeploymentStatus


def _labels(text: str) -> dict:
    labels = {}
    for line in text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Write labels as key=value, one a line: {line!r} is not.")
        labels[key.strip()] = value.strip()
    return labels


class LabelsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 2})

    def clean(self, value):
        return _labels(super().clean(value) or "")


class HostRegisterForm(forms.Form):
    name = forms.SlugField(max_length=40)
    engine_url = forms.CharField(max_length=200, help_text="unix:///path/to/docker.sock or tcp://host:2376 (TLS)")
    address = forms.CharField(max_length=100, initial="127.0.0.1", help_text="Where the router reaches its ports.")
    labels = LabelsField(required=False)
    capacity_containers = forms.IntegerField(min_value=1, initial=100)
    capacity_memory_mb = forms.IntegerField(min_value=64, initial=16384)
    is_builder = forms.BooleanField(required=False)
    tls_ca = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="CA certificate (PEM)")
    tls_cert = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Client cert (PEM)")
    tls_key = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Client key (PEM)")


class HostUpdateForm(forms.Form):
    labels = LabelsField(required=False)
    capacity_containers = forms.IntegerField(min_value=1)
    capacity_memory_mb = forms.IntegerField(min_value=64)
    address = forms.CharField(max_length=100)


class QuotasForm(forms.Form):
    plan = forms.CharField(required=False, max_length=40, help_text="A label: hobby, team, ...")
    max_apps = forms.IntegerField(min_value=0)
    max_containers = forms.IntegerField(min_value=0)
    max_memory_mb = forms.IntegerField(min_value=0)


class SuspendForm(forms.Form):
    confirm = forms.CharField(label="Type the tenant's slug to confirm")
    reason = forms.CharField(required=False, max_length=200)


def _choices(choices) -> list:
    return [("", "any"), *choices]


class ActivityFilter(forms.Form):
    tenant = forms.CharField(required=False)
    status = forms.ChoiceField(required=False)

    def __init__(self, *args, statuses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = _choices(statuses)


def deployment_filter(data) -> ActivityFilter:
    return ActivityFilter(data, statuses=DeploymentStatus.choices)


def build_filter(data) -> ActivityFilter:
    return ActivityFilter(data, statuses=BuildStatus.choices)


class AuditFilter(forms.Form):
    tenant = forms.CharField(required=False, help_text="A slug, or - for the fleet's own events.")
    actor = forms.CharField(required=False)
    action = forms.CharField(required=False, help_text="An action or its prefix, e.g. host.")
