"""The one table of error statuses: each one's default reason, its problem title, and what the
OpenAPI document says about it. The handlers, the error types and `problems()` all read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors.problem import PROBLEM_JSON, Problem


@dataclass(frozen=True)
class Status:
    reason: str
    """The default machine reason (an error type may name a more precise one)."""
    title: str
    """The problem's `title`, the same for every reason of this status."""
    description: str | None
    """The OpenAPI `responses` description; None where no operation documents it."""


STATUSES: dict[int, Status] = {
    400: Status(
        "BAD_REQUEST",
        "Bad request",
        "Invalid query parameter, unknown parameter or bad cursor.",
    ),
    401: Status("UNAUTHORIZED", "Unauthorized", "Missing or invalid API key."),
    403: Status("FORBIDDEN", "Forbidden", "The key's role may not do this."),
    404: Status("NOT_FOUND", "Not found", "No such resource."),
    405: Status("METHOD_NOT_ALLOWED", "Method not allowed", None),
    406: Status(
        "NOT_ACCEPTABLE",
        "Not acceptable",
        "`Accept` admits none of this operation's media types; `detail` names the one that "
        "serves it.",
    ),
    408: Status(
        "REQUEST_TIMEOUT",
        "Request timeout",
        "The body did not arrive within `BODY_READ_TIMEOUT_SECONDS`; nothing was done.",
    ),
    409: Status(
        "CONFLICT",
        "Conflict",
        "Conflict with stored data (duplicate value, or still referenced).",
    ),
    410: Status(
        "CURSOR_EXPIRED",
        "Gone",
        "The cursor is no longer (or was never) valid here: resync from the start.",
    ),
    412: Status(
        "PRECONDITION_FAILED", "Precondition failed", "If-Match does not match the current ETag."
    ),
    413: Status("PAYLOAD_TOO_LARGE", "Payload too large", "The body is too large."),
    415: Status(
        "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type", "The body is not application/json."
    ),
    422: Status(
        "VALIDATION_ERROR",
        "Validation error",
        "Invalid body; `errors[].pointer` names each bad field.",
    ),
    429: Status(
        "RATE_LIMITED",
        "Too many requests",
        "Rate limit reached for this key; retry after `Retry-After` seconds.",
    ),
    500: Status("INTERNAL_ERROR", "Internal error", None),
    503: Status(
        "SERVICE_UNAVAILABLE",
        "Service unavailable",
        "The database is unreachable (`SERVICE_UNAVAILABLE`), or every connection is in use "
        "(`SERVICE_BUSY`); retry after `Retry-After` seconds.",
    ),
}

UNKNOWN_STATUS = Status("HTTP_ERROR", "HTTP error", None)
"""For a status Starlette raises that the table does not know."""


def status_of(code: int) -> Status:
    return STATUSES.get(code, UNKNOWN_STATUS)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all with the problem schema."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description = STATUSES[status].description
        if description is None:
            raise ValueError(f"status {status} has no OpenAPI description in STATUSES")
        entries[status] = {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return entries
