"""Stacks: the images buildpack builds run in (build image) and the built apps run on (run image)."""

from django.db import models
from django.utils import timezone


class Stack(models.Model):
    """A build image and a run image, registered by staff; the default stack builds apps that name none."""

    name = models.SlugField(max_length=64, unique=True)
    build_image = models.CharField(max_length=300)
    run_image = models.CharField(max_length=300)
    description = models.CharField(max_length=200, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="stack_one_default"
            )
        ]

    def __str__(self) -> str:
        return self.name
