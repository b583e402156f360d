"""Where Berth's own images live: `<BERTH_REGISTRY>/<tenant>/<app>`, or `berth/<tenant>/<app>` with no registry."""

from django.conf import settings

LOCAL_NAMESPACE = "berth"


def image_namespaces() -> tuple[str, ...]:
    """Return the repository prefixes Berth's images live under: the registry's (when set), and the local name."""
    registry = settings.BERTH_REGISTRY.rstrip("/")
    return (registry, LOCAL_NAMESPACE) if registry else (LOCAL_NAMESPACE,)


def image_repository(*, tenant_slug: str, app_slug: str) -> str:
    """Return the repository a build of the app is tagged and pushed as."""
    return f"{image_namespaces()[0]}/{tenant_slug}/{app_slug}"
