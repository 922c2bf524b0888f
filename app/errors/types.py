"""The error types services raise: each names its HTTP status; its title and default reason come
from the status table (app.errors.statuses), so that no two errors of a status disagree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from app.errors.problem import ErrorItem
from app.errors.statuses import STATUSES


class AppError(Exception):
    """An error the client can act on, rendered as problem+json by app.errors.handlers.

    A subclass sets `status` (its reason and title then come from STATUSES) and may set a more
    precise `reason` (`InvalidParameter` is a 400 with reason INVALID_PARAMETER).
    """

    status: ClassVar[int] = 500
    reason: ClassVar[str] = STATUSES[500].reason
    title: ClassVar[str] = STATUSES[500].title

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        entry = STATUSES[cls.status]  # a KeyError here: add the status to the table first
        cls.title = entry.title
        if "status" in vars(cls) and "reason" not in vars(cls):
            cls.reason = entry.reason

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[ErrorItem] | None = None,
        more_errors: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.more_errors = more_errors
        """Bad inputs counted but not in `errors` (the answer lists at most MAX_LISTED_ERRORS)."""
        self.headers = headers or {}


class BadRequest(AppError):
    status = 400


class InvalidParameter(BadRequest):
    reason = "INVALID_PARAMETER"


class Unauthorized(AppError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class StillReferenced(Conflict):
    reason = "STILL_REFERENCED"


class PeriodInUse(Conflict):
    """A programme's period narrowed while commitments or targets use the years it drops."""

    reason = "PERIOD_IN_USE"


class CursorExpired(AppError):
    """A change-feed cursor that is no longer (or was never) valid: the client resyncs."""

    status = 410


class RequestTimeout(AppError):
    """The client did not send its whole body in time: nothing ran, no transaction opened."""

    status = 408


class NotAcceptable(AppError):
    """The client accepts none of the operation's media types (another operation serves it)."""

    status = 406


class PreconditionFailed(AppError):
    status = 412


class PayloadTooLarge(AppError):
    status = 413


class UnsupportedMediaType(AppError):
    status = 415


class ValidationFailed(AppError):
    status = 422


class TooManyRequests(AppError):
    status = 429


class ServiceUnavailable(AppError):
    """The database cannot be reached (down, closed, timed out): retry after Retry-After."""

    status = 503


class ServiceBusy(ServiceUnavailable):
    """Every pooled connection is in use (the pool timed out): retry after Retry-After."""

    reason = "SERVICE_BUSY"
