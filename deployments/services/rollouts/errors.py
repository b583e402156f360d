"""How a deployment stops early: a failure the user reads, or a newer deployment of the app taking over."""


class RolloutFailed(Exception):
    """Stop the rollout; `message` is what the user reads on the release and the deployment."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Superseded(Exception):
    """A newer deployment of the app took over; this one stops at its next step."""


class StartError(Exception):
    """A new container did not start or did not become healthy; the message tells the user what to fix."""
