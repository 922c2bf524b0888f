"""One error type and one handler: every failure leaves as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("relance.errors")

PROBLEM_JSON = "application/problem+json"


class ErrorItem(BaseModel):
    """One bad input: `pointer` (JSON Pointer into the body) or `parameter` (query, path…)."""

    pointer: str | None = Field(default=None, examples=["/amount"])
    parameter: str | None = Field(default=None, examples=["limit"])
    detail: str = Field(examples=["must be a decimal string with at most two decimals"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:relance:problem:validation-error",
                    "title": "Validation error",
                    "status": 422,
                    "detail": "The request body is invalid.",
                    "reason": "VALIDATION_ERROR",
                    "errors": [{"pointer": "/amount", "detail": "must be greater than 0"}],
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    reason: str = Field(description="Stable machine-readable code, UPPER_SNAKE.")
    instance: str | None = None
    errors: list[ErrorItem] | None = None


class AppError(Exception):
    status = 500
    reason = "INTERNAL_ERROR"
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[ErrorItem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}


class BadRequest(AppError):
    status, reason, title = 400, "BAD_REQUEST", "Bad request"


class InvalidParameter(BadRequest):
    reason = "INVALID_PARAMETER"


class Unauthorized(AppError):
    status, reason, title = 401, "UNAUTHORIZED", "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, reason, title = 403, "FORBIDDEN", "Forbidden"


class NotFound(AppError):
    status, reason, title = 404, "NOT_FOUND", "Not found"


class Conflict(AppError):
    status, reason, title = 409, "CONFLICT", "Conflict"


class StillReferenced(Conflict):
    reason = "STILL_REFERENCED"


class Gone(AppError):
    status, reason, title = 410, "CURSOR_EXPIRED", "Gone"


class PreconditionFailed(AppError):
    status, reason, title = 412, "PRECONDITION_FAILED", "Precondition failed"


class UnsupportedMediaType(AppError):
    status, reason, title = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class ValidationFailed(AppError):
    status, reason, title = 422, "VALIDATION_ERROR", "Validation error"


class TooManyRequests(AppError):
    status, reason, title = 429, "RATE_LIMITED", "Too many requests"


class ServiceUnavailable(AppError):
    status, reason, title = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


def problem_response(
    status: int,
    reason: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[ErrorItem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:relance:problem:{reason.lower().replace('_', '-')}",
        title=title,
        status=status,
        detail=detail,
        reason=reason,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def render(exc: AppError) -> JSONResponse:
    return problem_response(
        exc.status, exc.reason, exc.title, exc.detail, errors=exc.errors, headers=exc.headers
    )


# --- database constraint violations -------------------------------------------------------
# Constraint names are predictable (see app.models.base), so each maps to the field it guards.

_CHECK_MESSAGES = {
    "amount_positive": ("amount", "must be greater than 0"),
    "disbursed_within_amount": ("disbursed_amount", "must be between 0 and amount"),
    "progress_range": ("progress", "must be between 0 and 100"),
    "weight_non_negative": ("weight", "must not be negative"),
    "dates_ordered": ("end_date", "must not be before start_date"),
    "number_positive": ("number", "must be greater than 0"),
    "partner_role": ("partner_id", "is required for the partner role and only for it"),
}
_FK_MESSAGES = {
    "year": "is outside the programme period",
}


def sqlstate(exc: DBAPIError) -> str:
    """The PostgreSQL error code behind a SQLAlchemy error ('' when there is none)."""
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    return str(getattr(cause, "sqlstate", "") or "")


def integrity_error(exc: IntegrityError) -> AppError:
    """Turn a constraint violation into a client error naming the field, never the SQL text."""
    cause = getattr(exc.orig, "__cause__", None)
    sqlstate = getattr(cause, "sqlstate", None)
    name = getattr(cause, "constraint_name", None) or ""
    key = _KEY_COLUMNS.search(getattr(cause, "detail", None) or "")
    column = key.group(1).split(", ")[-1] if key else "field"
    referenced = "still referenced" in (getattr(cause, "detail", None) or "")
    if sqlstate == "23001" or (sqlstate == "23503" and referenced):  # ON DELETE RESTRICT
        return StillReferenced("The resource is still referenced by other resources.")
    if sqlstate == "23503":  # foreign_key_violation on insert or update
        message = _FK_MESSAGES.get(column, "refers to a resource that does not exist")
        return ValidationFailed(
            f"{column} {message}.", errors=[ErrorItem(pointer=f"/{column}", detail=message)]
        )
    if sqlstate == "23505":  # unique_violation
        return Conflict(
            f"Another resource already has this {column}.",
            errors=[ErrorItem(pointer=f"/{column}", detail="is already taken")],
        )
    if sqlstate == "23514":  # check_violation
        for check, (field, message) in _CHECK_MESSAGES.items():
            if name.endswith(f"_{check}_check"):
                return ValidationFailed(
                    f"{field} {message}.", errors=[ErrorItem(pointer=f"/{field}", detail=message)]
                )
        return ValidationFailed("A value breaks a rule of the programme's data.")
    if sqlstate == "23502":  # not_null_violation
        column = getattr(cause, "column_name", None) or "field"
        return ValidationFailed(
            f"{column} must not be null.",
            errors=[ErrorItem(pointer=f"/{column}", detail="must not be null")],
        )
    logger.error("unmapped integrity error %s on constraint %s", sqlstate, name)
    return Conflict("The change conflicts with the data already stored.")


_KEY_COLUMNS = re.compile(r"^Key \(([a-z_, ]+)\)=")


# Connection failures, server shutting down, too many connections, database closed to
# connections (55000 is what ALLOW_CONNECTIONS false answers), statement timeout, conflicts
# between transactions: the client may retry, the service stays up.
_RETRYABLE_SQLSTATES = ("08", "57P", "53", "55000", "57014", "40001", "40P01")


def unavailable(detail: str, retry_after: int = 5) -> ServiceUnavailable:
    return ServiceUnavailable(detail, headers={"Retry-After": str(retry_after)})


def database_error(exc: DBAPIError) -> AppError | None:
    """A client-facing error for a database failure, or None when it is a bug (500)."""
    if isinstance(exc, IntegrityError):
        return integrity_error(exc)
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    if sqlstate == "57014":
        return unavailable("The database took too long to answer; try again later.")
    if exc.connection_invalidated or sqlstate.startswith(_RETRYABLE_SQLSTATES):
        return unavailable("The database is unavailable; try again later.")
    if isinstance(cause, OSError | TimeoutError):
        return unavailable("The database is unreachable; try again later.")
    if sqlstate.startswith("22"):  # data exception that slipped past validation
        return ValidationFailed("A value is out of range for the programme's data.")
    return None


# Raised when the database cannot be reached at all (pool exhausted, connect refused or timed
# out); DBAPIError covers failures reported by the driver.
DATABASE_FAILURES = (DBAPIError, PoolTimeout, OSError, TimeoutError)


def database_failure(exc: BaseException) -> AppError | None:
    """The client-facing error for one of DATABASE_FAILURES, or None when it is a bug (500).

    For code outside the routes (pure ASGI middleware), which the handlers below do not cover.
    """
    if isinstance(exc, DBAPIError):
        return database_error(exc)
    if isinstance(exc, PoolTimeout | OSError | TimeoutError):
        return unavailable("The database is unreachable; try again later.")
    return None


# --- handlers -------------------------------------------------------------------------------


def _pointer(loc: Sequence[int | str]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def error_items(errors: Sequence[Any], prefix: Sequence[int | str] = ()) -> list[ErrorItem]:
    """Pydantic errors as ErrorItems whose pointers start with `prefix` (e.g. ("items", 5017))."""
    return [
        ErrorItem(pointer=_pointer((*prefix, *err.get("loc", ()))), detail=_message(err))
        for err in errors
    ]


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    body_errors: list[ErrorItem] = []
    param_errors: list[ErrorItem] = []
    path_only = True
    for err in exc.errors():
        loc: tuple[Any, ...] = tuple(err.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc else ("body", ())
        message = _message(err)
        if where == "body":
            path_only = False
            body_errors.append(ErrorItem(pointer=_pointer(rest), detail=message))
        else:
            path_only = path_only and where == "path"
            name = str(rest[0]) if rest else str(where)
            param_errors.append(ErrorItem(parameter=name, detail=message))
    if param_errors and path_only and not body_errors:
        return render(NotFound("No resource has this identifier."))
    if body_errors:
        return render(
            ValidationFailed("The request body is invalid.", errors=body_errors + param_errors)
        )
    return render(InvalidParameter("A query parameter is invalid.", errors=param_errors))


def _message(err: dict[str, Any] | Any) -> str:
    msg = str(err.get("msg", "is invalid"))
    if err.get("type") == "extra_forbidden":
        return "is not a known field (unknown or read-only)"
    if err.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return msg.removeprefix("Value error, ")


async def _app_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return render(exc)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_problem(exc)


_HTTP_REASONS = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


async def _http_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    reason, title = _HTTP_REASONS.get(exc.status_code, ("HTTP_ERROR", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such path."
    return problem_response(exc.status_code, reason, title, detail, headers=dict(exc.headers or {}))


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    error = database_error(exc)
    if error is None:
        return await _unexpected_handler(request, exc)
    if isinstance(error, ServiceUnavailable):
        logger.warning("database unavailable: %s", type(exc.orig).__name__)
    return render(error)


async def _unreachable_handler(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unreachable: %s", type(exc).__name__)
    return render(unavailable("The database is unreachable; try again later."))


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return render(AppError("An unexpected error occurred; it has been logged."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(DBAPIError, _database_handler)
    app.add_exception_handler(PoolTimeout, _unreachable_handler)
    app.add_exception_handler(OSError, _unreachable_handler)
    app.add_exception_handler(TimeoutError, _unreachable_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
