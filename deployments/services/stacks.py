"""Stacks (staff): the build image and run image buildpack builds use."""

from __future__ import annotations

from django.db import transaction

from deployments.models import Stack
from portal.errors import Invalid
from tenants.audit import audit_record


@transaction.atomic
def stack_register(
    *, name: str, build_image: str, run_image: str, default: bool, actor=None, description: str = ""
) -> Stack:
    """Create or update the stack `name`; `default` makes it the one apps without a stack build on."""
    if not build_image.strip() or not run_image.strip():
        raise Invalid("A stack needs a build image and a run image.")
    stack = Stack.objects.select_for_update().filter(name=name).first() or Stack(name=name)
    stack.build_image, stack.run_image, stack.description = build_image.strip(), run_image.strip(), description
    if default or not Stack.objects.exclude(pk=stack.pk).filter(is_default=True).exists():
        Stack.objects.exclude(pk=stack.pk).filter(is_default=True).update(is_default=False)
        stack.is_default = True
    stack.full_clean()
    stack.save()
    audit_record(
        actor=actor,
        tenant=None,
        action="stack.register",
        target=stack,
        diff={"build_image": stack.build_image, "run_image": stack.run_image, "default": stack.is_default},
    )
    return stack
