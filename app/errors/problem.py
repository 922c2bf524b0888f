"""The problem document (RFC 9457) every error leaves as, and its media type."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"

MAX_LISTED_ERRORS = 100
"""`errors[]` lists at most this many; `more_errors` counts the rest."""


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
    errors: list[ErrorItem] | None = Field(
        default=None, description=f"The bad inputs; at most the first {MAX_LISTED_ERRORS}."
    )
    more_errors: int | None = Field(
        default=None,
        ge=1,
        description=(
            f"How many more bad inputs there are than `errors[]` lists (it stops at "
            f"{MAX_LISTED_ERRORS}); absent when it lists them all."
        ),
    )
