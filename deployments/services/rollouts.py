"""Rollouts of releases onto the hosts."""


def rollout_enqueue(*, release_id: int) -> None:
    """Queue the rollout of a release. Until hosts exist a release waits in `pending`."""


def scale_enqueue(*, app_id: int) -> None:
    """Queue bringing an app's containers to its formation's quantities."""
