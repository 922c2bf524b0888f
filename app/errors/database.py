"""Database failures, classified: a constraint violation becomes a 409/422 naming the field, an
unreachable database a 503 SERVICE_UNAVAILABLE, an exhausted pool a 503 SERVICE_BUSY, anything
else a bug (None: the handler answers 500). Never the database's text."""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.errors.problem import ErrorItem
from app.errors.types import (
    AppError,
    Conflict,
    ServiceBusy,
    ServiceUnavailable,
    StillReferenced,
    ValidationFailed,
)

logger = logging.getLogger("relance.errors")

# --- constraint violations ------------------------------------------------------------------
# Constraint names are predictable (see app.models.base), so each maps to the field it guards.

_CHECK_MESSAGES = {
    "amount_positive": ("amount", "must be greater than 0"),
    "disbursed_within_amount": ("disbursed_amount", "must be between 0 and amount"),
    "progress_range": ("progress", "must be between 0 and 100"),
    "weight_non_negative": ("weight", "must not be negative"),
    "dates_ordered": ("end_date", "must not be before start_date"),
    "number_positive": ("number", "must be greater than 0"),
    "partner_role": ("partner_id", "is required for the partner role and only for it"),
    "siret_of_siren": ("siret", "must begin with the partner's siren"),
    # Before siret_format: the first name that ends the constraint's name wins.
    "beneficiary_siret_format": ("beneficiary_siret", "must be 14 digits"),
    "siret_format": ("siret", "must be 14 digits"),
    "beneficiary_rna_format": ("beneficiary_rna", "must be W followed by 9 digits"),
    # Raised by the payments' triggers (app/models/sql/payments.sql), named like checks.
    "total_above_amount": ("amount", "would bring the commitment's total paid above its amount"),
    "total_below_zero": ("amount", "would bring the commitment's total paid below zero"),
    "paid_on_in_commitment_years": ("paid_on", "must not be before the commitment's year"),
    "year_before_payments": ("year", "must not be after the date of one of its payments"),
    "amount_signed_by_kind": (
        "amount",
        "must be greater than 0 (for an adjustment: any amount but 0)",
    ),
    # A schedule, checked at commit (app/models/sql/schedules.sql).
    "sum_matches_amount": ("lines", "must sum to the commitment's amount"),
    "not_before_commitment_year": ("lines", "must not be before the commitment's year"),
    # A financing plan (app/models/sql/financing.sql), its lines checked at commit.
    "within_eligible": ("lines", "must not sum above the eligible cost"),
    "eligible_within_total": ("eligible_cost", "must not be above total_cost"),
    "lead_among_lines": ("lead_partner_id", "must be the partner of one of the lines"),
    # Indicators (app/models/sql/indicators.sql and the indicator tables' checks).
    "on_not_in_future": ("on", "must not be in the future"),
    "units_unmixed": ("aggregation", "would add up values stated in several units"),
    "baseline_value_decimal": ("baseline", "must have at most four decimals"),
    "value_decimal": ("value", "must have at most four decimals"),
}
_FK_MESSAGES = {
    "year": "is outside the programme period",
}
_KEY_COLUMNS = re.compile(r"^Key \(([a-z_, ]+)\)=")


def sqlstate(exc: DBAPIError) -> str:
    """The PostgreSQL error code behind a SQLAlchemy error ('' when there is none)."""
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    return str(getattr(cause, "sqlstate", "") or "")


def integrity_error(exc: IntegrityError) -> AppError:
    """Turn a constraint violation into a client error naming the field, never the SQL text."""
    cause = getattr(exc.orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None)
    name = getattr(cause, "constraint_name", None) or ""
    key = _KEY_COLUMNS.search(getattr(cause, "detail", None) or "")
    column = key.group(1).split(", ")[-1] if key else "field"
    referenced = "still referenced" in (getattr(cause, "detail", None) or "")
    if code == "23001" or (code == "23503" and referenced):  # ON DELETE RESTRICT
        return StillReferenced("The resource is still referenced by other resources.")
    if code == "23503":  # foreign_key_violation on insert or update
        message = _FK_MESSAGES.get(column, "refers to a resource that does not exist")
        return ValidationFailed(
            f"{column} {message}.", errors=[ErrorItem(pointer=f"/{column}", detail=message)]
        )
    if code == "23505":  # unique_violation
        return Conflict(
            f"Another resource already has this {column}.",
            errors=[ErrorItem(pointer=f"/{column}", detail="is already taken")],
        )
    if code == "23514":  # check_violation
        for check, (field, message) in _CHECK_MESSAGES.items():
            if name.endswith(f"_{check}_check"):
                return ValidationFailed(
                    f"{field} {message}.", errors=[ErrorItem(pointer=f"/{field}", detail=message)]
                )
        return ValidationFailed("A value breaks a rule of the programme's data.")
    if code == "23502":  # not_null_violation
        column = getattr(cause, "column_name", None) or "field"
        return ValidationFailed(
            f"{column} must not be null.",
            errors=[ErrorItem(pointer=f"/{column}", detail="must not be null")],
        )
    logger.error("unmapped integrity error %s on constraint %s", code, name)
    return Conflict("The change conflicts with the data already stored.")


# --- the database away, or busy -------------------------------------------------------------

# Connection failures, server shutting down, too many connections, database closed to
# connections (55000 is what ALLOW_CONNECTIONS false answers), statement timeout, conflicts
# between transactions: the client may retry, the service stays up.
_RETRYABLE_SQLSTATES = ("08", "57P", "53", "55000", "57014", "40001", "40P01")


TRANSACTION_CONFLICTS = frozenset({"40P01", "40001"})
"""Deadlock detected and serialization failure: PostgreSQL rolled the transaction back because
of another one, and running it again is the cure its documentation gives (app.ops.retry)."""

TRANSACTION_CONFLICT = "transaction_conflict"
"""The request-state key (`scope["state"]`) the error handler sets to the SQLSTATE when a route's
transaction failed with one of TRANSACTION_CONFLICTS: the answer may be replaced by a rerun."""


RERUN_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""The requests app.ops.retry runs again after a transaction conflict (reads never are)."""


def transaction_conflict(exc: BaseException) -> str | None:
    """The SQLSTATE of `exc` when it is one of TRANSACTION_CONFLICTS, else None."""
    code = sqlstate(exc) if isinstance(exc, DBAPIError) else ""
    return code if code in TRANSACTION_CONFLICTS else None


def unavailable(detail: str, retry_after: int = 5) -> ServiceUnavailable:
    return ServiceUnavailable(detail, headers={"Retry-After": str(retry_after)})


def busy(retry_after: int = 1) -> ServiceBusy:
    """Every connection of the pool stayed in use for DB__POOL_TIMEOUT_SECONDS."""
    return ServiceBusy("The service is busy, retry.", headers={"Retry-After": str(retry_after)})


def database_error(exc: DBAPIError) -> AppError | None:
    """A client-facing error for a failure the driver reported, or None when it is a bug."""
    if isinstance(exc, IntegrityError):
        return integrity_error(exc)
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    code = str(getattr(cause, "sqlstate", "") or "")
    if code == "57014":
        return unavailable("The database took too long to answer; try again later.")
    if exc.connection_invalidated or code.startswith(_RETRYABLE_SQLSTATES):
        return unavailable("The database is unavailable; try again later.")
    if isinstance(cause, OSError | TimeoutError):
        return unavailable("The database is unreachable; try again later.")
    if code.startswith("22"):  # data exception that slipped past validation
        return ValidationFailed("A value is out of range for the programme's data.")
    return None


def failure_cause(exc: BaseException) -> str:
    """What the driver reported, for the log line of a 503: the driver's own exception class
    and its SQLSTATE (`DeadlockDetectedError 40P01`), not SQLAlchemy's wrapper (`Error`)."""
    if not isinstance(exc, DBAPIError):
        return type(exc).__name__
    cause = getattr(exc.orig, "__cause__", None) or exc.orig
    code = sqlstate(exc)
    return f"{type(cause).__name__} {code}" if code else type(cause).__name__


DATABASE_FAILURES = (DBAPIError, PoolTimeout, OSError, TimeoutError)
"""What reaching the database may raise: the driver's errors (DBAPIError), the pool's timeout
when every connection is in use, and connect failures (refused, timed out)."""


def database_failure(exc: BaseException) -> AppError | None:
    """The client-facing error for one of DATABASE_FAILURES, or None when it is a bug (500).

    The handlers use it, and so does code outside the routes (pure ASGI middleware).
    """
    if isinstance(exc, DBAPIError):
        return database_error(exc)
    if isinstance(exc, PoolTimeout):  # before OSError: the pool's own timeout
        return busy()
    if isinstance(exc, OSError | TimeoutError):
        return unavailable("The database is unreachable; try again later.")
    return None
