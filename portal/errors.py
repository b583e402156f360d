"""Domain errors: what a service, selector or adapter raises when the caller asked for something it cannot have.

An error carries a stable `code` (machine-readable, e.g. `last_owner`), a `message` for a human, optional `fields`
(per input field, what is wrong with it) and a `kind`. The kind says what went wrong in terms every interface
understands; each interface turns it into its own answer: the API's exception handler (`portal.api`) into an HTTP
status and the documented error body, the UI into a message on the page (or its 404 page), a management command into
a CommandError. Nothing here knows about HTTP, so any module of any app may import it.
"""

from enum import StrEnum
from typing import ClassVar


class Kind(StrEnum):
    """What went wrong, as far as the caller is concerned."""

    NOT_FOUND = "not_found"  # no such object, or one the caller cannot see (another tenant's)
    CONFLICT = "conflict"  # the request is well formed but collides with the current state
    INVALID = "invalid"  # the input itself is wrong
    FORBIDDEN = "forbidden"  # the caller may see the object but not do this to it
    QUOTA_EXCEEDED = "quota_exceeded"  # the tenant's plan does not allow this much
    UNAVAILABLE = "unavailable"  # a component the answer depends on does not answer; trying again later may work


class ApplicationError(Exception):
    """An error the caller can act on. Raise one of the subclasses below; the kind comes with the class."""

    kind: ClassVar[Kind] = Kind.INVALID
    default_code: ClassVar[str] = "invalid"
    default_message: ClassVar[str] = "Invalid input."

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = message if message is not None else self.default_message
        self.code = code or self.default_code
        self.fields = fields or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class NotFound(ApplicationError):
    """No such object. A missing object and another tenant's give the same error, so nothing leaks."""

    kind = Kind.NOT_FOUND
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    kind = Kind.CONFLICT
    default_code = "conflict"
    default_message = "This conflicts with the current state."


class Invalid(ApplicationError):
    kind = Kind.INVALID
    default_code = "invalid"
    default_message = "Invalid input."


class Forbidden(ApplicationError):
    kind = Kind.FORBIDDEN
    default_code = "forbidden"
    default_message = "You may not do this."


class QuotaExceeded(ApplicationError):
    kind = Kind.QUOTA_EXCEEDED
    default_code = "quota_exceeded"
    default_message = "This exceeds the tenant's quota."


class Unavailable(ApplicationError):
    kind = Kind.UNAVAILABLE
    default_code = "unavailable"
    default_message = "A service this needs does not answer; try again later."


__all__ = ["ApplicationError", "Conflict", "Forbidden", "Invalid", "Kind", "NotFound", "QuotaExceeded", "Unavailable"]
