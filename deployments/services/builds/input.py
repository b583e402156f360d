"""What a build request may carry: build arguments that are declared and never secret, image references that stay
inside the caller's tenant."""

from __future__ import annotations

import re

from deployments import crypto
from deployments.models import App, ConfigVar
from deployments.services.images import image_namespaces
from portal.errors import Invalid

BUILD_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,299}$")


def check_build_args(*, app: App, build_args: dict) -> dict[str, str]:
    """Return the build args as strings, or raise Invalid when one is malformed or touches a secret."""
    if not isinstance(build_args, dict):
        raise Invalid("build_args must be an object of NAME: value.", fields={"build_args": ["Not an object."]})
    secrets = ConfigVar.objects.filter(app=app, secret=True)
    secret_keys = {var.key for var in secrets}
    secret_values = set()
    for var in secrets:
        try:
            value = crypto.decrypt(var.value)
        except ValueError:
            continue
        if value:
            secret_values.add(value)
    clean: dict[str, str] = {}
    for key, value in build_args.items():
        if not BUILD_ARG_KEY.match(str(key)):
            raise Invalid(f"{key!r} is not a valid build argument name.", fields={"build_args": [str(key)]})
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise Invalid(f"Build argument {key} must be a string.", fields={"build_args": [str(key)]})
        value = str(value)
        if key in secret_keys or value in secret_values or any(s in value for s in secret_values if len(s) >= 6):
            raise Invalid(
                f"Build argument {key} names or carries a secret config var: secrets reach containers at run time "
                "only, never an image.",
                code="secret_build_arg",
                fields={"build_args": [str(key)]},
            )
        clean[key] = value
    return clean


def _platform_namespaces() -> list[str]:
    """Repository prefixes Berth's own images live under (the registry's, and the local name without one)."""
    return [f"{namespace}/" for namespace in image_namespaces()]


def own_image(*, app: App, image: str) -> bool:
    """Whether `image` names one of the tenant's own images in Berth's namespace."""
    return any(image.startswith(f"{prefix}{app.tenant.slug}/") for prefix in _platform_namespaces())


def check_image_ref(*, app: App, image: str) -> None:
    """Refuse a malformed reference, and one naming another tenant's image in Berth's namespace."""
    if not _IMAGE_REF.match(image):
        raise Invalid(f"{image!r} is not an image reference.", fields={"image": ["Invalid reference."]})
    # The builder holds every tenant's images: a reference into Berth's namespace must stay in the caller's tenant.
    if any(image.startswith(prefix) for prefix in _platform_namespaces()) and not own_image(app=app, image=image):
        raise Invalid(
            "An image in the platform registry can only be one of this tenant's own.",
            fields={"image": ["Not this tenant's image."]},
        )
