"""Errors a verb raises for its caller to turn into an exit status."""


class UsageError(Exception):
    """The command line asks for something that cannot be done: exit status 2."""
