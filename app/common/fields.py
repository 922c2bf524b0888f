"""Strict scalar types of the API: money as decimal strings (never floats), dates, years, codes."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

MONEY_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)


def _parse_money(value: Any) -> Decimal:
    if isinstance(value, Decimal):  # from the database or Python callers, never from JSON
        return value
    if not isinstance(value, str):
        raise ValueError('must be a string such as "1250.00", not a JSON number')
    if not _MONEY_RE.fullmatch(value):
        raise ValueError(
            "must be a decimal string with at most 13 digits before the point and at most "
            'two decimals, such as "1250.00" (no sign, exponent, NaN or Infinity)'
        )
    return Decimal(value)


def format_money(value: Decimal) -> str:
    return f"{value:.2f}"


_MONEY_SCHEMA = {
    "type": "string",
    "pattern": MONEY_PATTERN,
    "format": "decimal",
    "description": "An amount in euros, as a decimal string with at most two decimals.",
    "examples": ["350000000.00"],
}

Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema(_MONEY_SCHEMA),
]
"""Input: "1250", "1250.5" or "1250.50"; output: always two decimals."""


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


PositiveMoney = Annotated[Money, AfterValidator(_positive)]


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date(value: Any) -> Any:
    # A string of digits would otherwise be read as a Unix timestamp ("0": 1970-01-01).
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError('must be a date string such as "2024-03-15"')


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date as `YYYY-MM-DD` only (no Unix timestamps); impossible dates are refused."""

Year = Annotated[int, Field(ge=1900, le=2200, strict=True, examples=[2024])]
"""A budget year; the programme period itself is checked by the database (programme_years)."""

Text = Annotated[str, Field(min_length=1, max_length=2000)]
LongText = Annotated[str, Field(max_length=20000)]
# Control characters: C0 (U+0000–U+001F, the U+001C–U+001F separators that str.strip() removes
# included), DEL and C1 (U+007F–U+009F).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
IDENTIFIER_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
"""No control character anywhere, no whitespace at either end (JSON schema and validation)."""


def _untrimmed_identifier(value: Any) -> Any:
    """Refuse, never trim: `" SP "` and `"SP"` would otherwise be one reference in a batch (the
    body models strip strings) and two through a path parameter (nothing strips those). Runs
    before the string validation, so it sees the value as sent."""
    if (
        type(value) is str
        and value.isascii()
        and value.isprintable()
        and value[:1] != " "
        and value[-1:] != " "
    ):
        # The common case, in C: printable ASCII has no control character, and its only
        # whitespace is the space (a batch checks 30,000 identifiers this way).
        return value
    if isinstance(value, str):
        control = _CONTROL.search(value)
        if control is not None:
            raise ValueError(
                f"must not contain control characters (found U+{ord(control.group()):04X} at "
                f"position {control.start()})"
            )
        if value != value.strip():
            raise ValueError("must not begin or end with whitespace")
    return value


StrictIdentifier = BeforeValidator(_untrimmed_identifier)
"""Add to an identifier-like string type: control characters and surrounding spaces are 422."""

Code = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$"),
    StrictIdentifier,  # after the constraints: it runs first, and they stay in the schema
]

# --- French identifiers of organisations ----------------------------------------------------

LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
"""La Poste's establishments outnumber what the Luhn key can tell apart: their SIRETs are valid
when the sum of their digits is a multiple of 5 (INSEE's published exception); its head office
keeps the Luhn key."""


def siret_key_valid(siret: str) -> bool:
    """The SIRET's check: the Luhn key over its 14 digits, or La Poste's exception."""
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_HEAD_OFFICE:
        return sum(int(d) for d in siret) % 5 == 0
    total = 0
    for position, digit in enumerate(reversed(siret)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _siret_key(value: str) -> str:
    if not siret_key_valid(value):
        raise ValueError("is not a valid SIRET: its check digit (Luhn key) does not match")
    return value


SIRET_PATTERN = r"^[0-9]{14}$"
Siret = Annotated[
    str,
    Field(
        pattern=SIRET_PATTERN,
        description="A SIRET: 14 digits, no spaces, with a valid Luhn key (La Poste's included).",
        examples=["21130055300016"],
    ),
    AfterValidator(_siret_key),
]

RNA_PATTERN = r"^W[0-9]{9}$"
Rna = Annotated[
    str,
    Field(
        pattern=RNA_PATTERN,
        description="An association's number in the RNA: W and 9 digits.",
        examples=["W133012345"],
    ),
]
