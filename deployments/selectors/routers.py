"""Reads of an app's router settings."""

from deployments.models import App, RouterSettings


def router_settings_get(*, app: App) -> RouterSettings:
    """The app's router settings, or an unsaved row holding the defaults when it never changed them."""
    return RouterSettings.objects.filter(app=app).first() or RouterSettings(app=app)
