"""The one error path: every exception a route raises leaves as application/problem+json."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors.database import (
    DATABASE_FAILURES,
    RERUN_METHODS,
    TRANSACTION_CONFLICT,
    database_failure,
    failure_cause,
    transaction_conflict,
)
from app.errors.problem import MAX_LISTED_ERRORS, PROBLEM_JSON, ErrorItem, Problem
from app.errors.statuses import status_of
from app.errors.types import (
    AppError,
    InvalidParameter,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)

logger = logging.getLogger("relance.errors")


def problem_response(
    status: int,
    reason: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[ErrorItem] | None = None,
    more_errors: int = 0,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem document; `errors` beyond MAX_LISTED_ERRORS are counted in `more_errors`
    (with the `more_errors` the caller counted without listing them), not listed."""
    listed = None
    if errors is not None:
        listed = list(errors[:MAX_LISTED_ERRORS])
        more_errors += len(errors) - len(listed)
    body = Problem(
        type=f"urn:relance:problem:{reason.lower().replace('_', '-')}",
        title=title,
        status=status,
        detail=detail,
        reason=reason,
        errors=listed,
        more_errors=more_errors if more_errors > 0 else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def render(exc: AppError) -> JSONResponse:
    return problem_response(
        exc.status,
        exc.reason,
        exc.title,
        exc.detail,
        errors=exc.errors,
        more_errors=exc.more_errors,
        headers=exc.headers,
    )


# --- validation -------------------------------------------------------------------------------


def _pointer(loc: Sequence[int | str]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def _message(err: dict[str, Any] | Any) -> str:
    msg = str(err.get("msg", "is invalid"))
    if err.get("type") == "extra_forbidden":
        return "is not a known field (unknown or read-only)"
    if err.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return msg.removeprefix("Value error, ")


def error_items(errors: Sequence[Any], prefix: Sequence[int | str] = ()) -> list[ErrorItem]:
    """Pydantic errors as ErrorItems whose pointers start with `prefix` (e.g. ("items", 5017))."""
    return [
        ErrorItem(pointer=_pointer((*prefix, *err.get("loc", ()))), detail=_message(err))
        for err in errors
    ]


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    """Each kind of error is listed up to MAX_LISTED_ERRORS and the rest only counted: an 8 MB
    body of 700,000 unknown fields made 700,000 ErrorItems (seconds of a worker) for 100 sent."""
    body_errors: list[ErrorItem] = []
    param_errors: list[ErrorItem] = []
    unlisted = 0
    path_only = True
    for err in exc.errors():
        loc: tuple[Any, ...] = tuple(err.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc else ("body", ())
        if where == "body":
            path_only = False
            if len(body_errors) < MAX_LISTED_ERRORS:
                body_errors.append(ErrorItem(pointer=_pointer(rest), detail=_message(err)))
            else:
                unlisted += 1
        else:
            path_only = path_only and where == "path"
            if len(param_errors) < MAX_LISTED_ERRORS:
                name = str(rest[0]) if rest else str(where)
                param_errors.append(ErrorItem(parameter=name, detail=_message(err)))
            else:
                unlisted += 1
    if param_errors and path_only and not body_errors:
        return render(NotFound("No resource has this identifier."))
    if body_errors:
        return render(
            ValidationFailed(
                "The request body is invalid.",
                errors=body_errors + param_errors,
                more_errors=unlisted,
            )
        )
    return render(
        InvalidParameter("A query parameter is invalid.", errors=param_errors, more_errors=unlisted)
    )


# --- handlers ---------------------------------------------------------------------------------


async def _app_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return render(exc)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_problem(exc)


async def _http_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    entry = status_of(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else entry.title
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such path."
    return problem_response(
        exc.status_code, entry.reason, entry.title, detail, headers=dict(exc.headers or {})
    )


async def _database_handler(request: Request, exc: Exception) -> JSONResponse:
    error = database_failure(exc)
    if error is None:
        return await _unexpected_handler(request, exc)
    conflict = transaction_conflict(exc)
    if conflict is not None and request.method in RERUN_METHODS:  # app.ops.retry logs the rest
        request.scope.setdefault("state", {})[TRANSACTION_CONFLICT] = conflict
    elif isinstance(error, ServiceUnavailable):
        logger.warning("database %s: %s", error.reason.lower(), failure_cause(exc))
    return render(error)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return render(AppError("An unexpected error occurred; it has been logged."))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for failure in DATABASE_FAILURES:
        app.add_exception_handler(failure, _database_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
