"""Errors, by concern: the types services raise (types), the one table of statuses and reasons
(statuses), database failures classified (database), and the handlers that render every error
as application/problem+json (handlers). The names are re-exported here: `from app.errors
import NotFound`."""

from app.errors.database import (
    DATABASE_FAILURES,
    busy,
    database_error,
    database_failure,
    integrity_error,
    sqlstate,
    unavailable,
)
from app.errors.handlers import error_items, install_error_handlers, problem_response, render
from app.errors.problem import MAX_LISTED_ERRORS, PROBLEM_JSON, ErrorItem, Problem
from app.errors.statuses import STATUSES, Status, problems, status_of
from app.errors.types import (
    AppError,
    BadRequest,
    Conflict,
    CursorExpired,
    Forbidden,
    InvalidParameter,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    PeriodInUse,
    PreconditionFailed,
    RequestTimeout,
    ServiceBusy,
    ServiceUnavailable,
    StillReferenced,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)

__all__ = [
    "DATABASE_FAILURES",
    "MAX_LISTED_ERRORS",
    "PROBLEM_JSON",
    "STATUSES",
    "AppError",
    "BadRequest",
    "Conflict",
    "CursorExpired",
    "ErrorItem",
    "Forbidden",
    "InvalidParameter",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "PeriodInUse",
    "PreconditionFailed",
    "Problem",
    "RequestTimeout",
    "ServiceBusy",
    "ServiceUnavailable",
    "Status",
    "StillReferenced",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "busy",
    "database_error",
    "database_failure",
    "error_items",
    "install_error_handlers",
    "integrity_error",
    "problem_response",
    "problems",
    "render",
    "sqlstate",
    "status_of",
    "unavailable",
]
