"""Forms of the customer pages. They check the shape of what is typed; the services decide what is allowed."""

from django import forms


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
