"""Indicator inputs and outputs: values as decimal strings, achievement derived and published."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import Body, Query
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    computed_field,
)
from pydantic.config import JsonDict

from app.commitments.schemas import ExternalRef
from app.common.fields import Code, IsoDate, StrictIdentifier, Text, Year
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import IndicatorAggregation, IndicatorDirection
from app.sync.schemas import MAX_BATCH, ReceivedBatch

VALUE_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"
_VALUE_RE = re.compile(VALUE_PATTERN)
MAX_TARGETS = 100
MAX_ACTUALS = 1000


def _parse_value(value: Any) -> Decimal:
    if isinstance(value, Decimal):  # from the database or Python callers, never from JSON
        return value
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "12.5", not a JSON number')
    if not _VALUE_RE.fullmatch(value):
        raise ValueError(
            "must be a decimal string with at most 15 digits before the point and at most "
            'four decimals, such as "12.5" or "-3" (no exponent, NaN or Infinity)'
        )
    parsed = Decimal(value)
    return parsed.copy_abs() if parsed.is_zero() else parsed  # "-0" is stored as 0


def format_value(value: Decimal) -> str:
    """As sent (its own decimals), never in exponent notation."""
    return format(value, "f")


IndicatorValue = Annotated[
    Decimal,
    BeforeValidator(_parse_value),
    PlainSerializer(format_value, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": VALUE_PATTERN,
            "format": "decimal",
            "description": "A value in the indicator's unit, as a decimal string (at most four "
            "decimals), kept as sent.",
            "examples": ["12.5"],
        }
    ),
]

Unit = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["km"], description="What a value counts."),
    StrictIdentifier,
]

RATE_PLACES = Decimal("0.0001")

ACHIEVEMENT_FORMULA = (
    "Achievement for a year y = (A − B) ÷ (T − B), where B is the baseline value, T the target "
    "for y and A the last actual dated on or before 31 December of y (of two actuals of one "
    "day, the one recorded last). It is null when there is no baseline, no target for y, no "
    "actual up to y, or T = B. Rounded half away from zero to four decimal places and given as "
    'a decimal string ("0.4500" is 45 %); it may be negative or above 1. A decreasing '
    "indicator needs no special case: its numerator and denominator are both negative while it "
    "goes the right way."
)


def achievement(
    baseline: Decimal | None, target: Decimal | None, actual: Decimal | None
) -> Decimal | None:
    """ACHIEVEMENT_FORMULA for one action's year."""
    if baseline is None or target is None or actual is None or target == baseline:
        return None
    return ((actual - baseline) / (target - baseline)).quantize(RATE_PLACES, ROUND_HALF_UP)


Rate = Annotated[
    Decimal,
    PlainSerializer(format_value, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "description": "A ratio with four decimals (1.0000 is the target reached).",
            "examples": ["0.4500"],
        }
    ),
]

# --- definitions ---------------------------------------------------------------------------------

_EXAMPLE: JsonDict = {
    "code": "TRAM_KM",
    "name": "Lignes de tramway en service",
    "unit": "km",
    "direction": "increase",
    "aggregation": "sum",
    "programme_id": None,
}

_DIRECTION = "`increase` when more is better, `decrease` when less is (emissions, travel time)."
_AGGREGATION = (
    "`sum`: the actions' values add up to chantier, priority and programme totals "
    "(/v1/aggregates/indicators); `none`: they do not (a rate, a mean). `sum` is refused while "
    "the actions' values are in more than one unit."
)


class IndicatorCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    code: Code
    name: Text
    unit: Unit
    direction: IndicatorDirection = Field(
        default=IndicatorDirection.increase, description=_DIRECTION
    )
    aggregation: IndicatorAggregation = Field(
        default=IndicatorAggregation.none, description=_AGGREGATION
    )
    programme_id: uuid.UUID | None = Field(
        default=None, description="A programme's own indicator; null: shared by all."
    )


class IndicatorUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"aggregation": "sum"}]})

    code: Code = Field(default=OMITTED)
    name: Text = Field(default=OMITTED)
    unit: Unit = Field(default=OMITTED)
    direction: IndicatorDirection = Field(default=OMITTED, description=_DIRECTION)
    aggregation: IndicatorAggregation = Field(default=OMITTED, description=_AGGREGATION)


class IndicatorRead(ResourceRead):
    model_config = read_example(_EXAMPLE)

    code: str
    name: str
    unit: str
    direction: IndicatorDirection
    aggregation: IndicatorAggregation
    programme_id: uuid.UUID | None


@dataclass
class IndicatorFilters:
    code: Annotated[list[Code] | None, Query(description="Only these codes (repeatable).")] = None
    programme_id: Annotated[
        uuid.UUID | None, Query(description="Only this programme's own indicators.")
    ] = None
    aggregation: Annotated[
        IndicatorAggregation | None, Query(description="Only `sum` or only `none` indicators.")
    ] = None


# --- one action's record -------------------------------------------------------------------------


class IndicatorBaseline(Input):
    value: IndicatorValue
    on: IsoDate = Field(description="When the baseline was measured.")


class IndicatorTargetInput(Input):
    year: Year = Field(description="A year of the action's programme.")
    value: IndicatorValue


class IndicatorActualInput(Input):
    on: IsoDate = Field(description="When it was measured; never in the future.")
    value: IndicatorValue
    partner_id: uuid.UUID | None = Field(
        default=None, description="The partner that reported it (kept from its push)."
    )
    external_ref: ExternalRef | None = None


_RECORD_EXAMPLE: JsonDict = {
    "baseline": {"value": "12.0", "on": "2020-01-01"},
    "targets": [{"year": 2024, "value": "15.0"}, {"year": 2026, "value": "20.0"}],
    "actuals": [{"on": "2023-09-01", "value": "13.5", "partner_id": None, "external_ref": None}],
}


class ActionIndicatorPut(Input):
    """The whole record: it replaces the baseline, the targets and the actuals."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RECORD_EXAMPLE]})

    baseline: IndicatorBaseline | None = None
    targets: list[IndicatorTargetInput] = Field(default_factory=list, max_length=MAX_TARGETS)
    actuals: list[IndicatorActualInput] = Field(default_factory=list, max_length=MAX_ACTUALS)


class IndicatorTargetRead(BaseModel):
    year: int
    value: IndicatorValue


class IndicatorActualRead(BaseModel):
    on: date
    value: IndicatorValue
    partner_id: uuid.UUID | None
    external_ref: str | None


class IndicatorBaselineRead(BaseModel):
    value: IndicatorValue
    on: date


class IndicatorYearAchievement(BaseModel):
    year: int
    actual: IndicatorValue | None = Field(description="The last actual up to 31 December.")
    achievement: Rate | None = Field(description=ACHIEVEMENT_FORMULA)


class ActionIndicatorRead(ResourceRead):
    model_config = read_example(
        {
            "action_id": "9a1d2c3e-4b5f-4a6b-8c7d-0e1f2a3b4c5d",
            "indicator_id": "1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90",
            "unit": "km",
            **_RECORD_EXAMPLE,
            "achievement": [
                {"year": 2024, "actual": "13.5", "achievement": "0.5000"},
                {"year": 2026, "actual": "13.5", "achievement": "0.1875"},
            ],
        }
    )

    action_id: uuid.UUID
    indicator_id: uuid.UUID
    unit: str = Field(description="The unit the values were stated in (the indicator's).")
    baseline: IndicatorBaselineRead | None
    targets: list[IndicatorTargetRead] = Field(description="In year order.")
    actuals: list[IndicatorActualRead] = Field(
        description="In date order, then in the order recorded."
    )

    @computed_field(description=f"One entry per target year. {ACHIEVEMENT_FORMULA}")  # type: ignore[prop-decorator]
    @property
    def achievement(self) -> list[IndicatorYearAchievement]:
        base = self.baseline.value if self.baseline is not None else None
        result = []
        for target in self.targets:
            end = date(target.year, 12, 31)
            upto = [a.value for a in self.actuals if a.on <= end]
            last = upto[-1] if upto else None
            result.append(
                IndicatorYearAchievement(
                    year=target.year, actual=last, achievement=achievement(base, target.value, last)
                )
            )
        return result


class ActionIndicatorList(BaseModel):
    items: list[ActionIndicatorRead] = Field(description="Every indicator the action follows.")


# --- partners' values ----------------------------------------------------------------------------

_VALUE_EXAMPLE: JsonDict = {
    "action_code": "TRAM-T3",
    "indicator_code": "TRAM_KM",
    "on": "2025-06-30",
    "value": "14.2",
}


class IndicatorValuePut(Input):
    """One measured value, naming the action by its code and the indicator by its code."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VALUE_EXAMPLE]})

    action_code: Code
    indicator_code: Code
    on: IsoDate = Field(description="When it was measured; never in the future.")
    value: IndicatorValue


class IndicatorValueItem(IndicatorValuePut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"external_ref": "BDT-IND-2025-0001", **_VALUE_EXAMPLE}]}
    )

    external_ref: ExternalRef


class IndicatorValueBatch(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{"external_ref": "BDT-IND-2025-0001", **_VALUE_EXAMPLE}]}]
        }
    )

    items: list[IndicatorValueItem] = Field(max_length=MAX_BATCH, description="Up to 10,000 items.")


class IndicatorValueResult(BaseModel):
    created: int = Field(description="Values that did not exist.")
    updated: int = Field(description="Values that existed and changed.")
    unchanged: int = Field(description="Values already identical.")


# --- roll-ups ------------------------------------------------------------------------------------


class IndicatorCell(BaseModel):
    indicator_id: uuid.UUID
    indicator_code: str
    unit: str
    direction: IndicatorDirection
    group_id: uuid.UUID = Field(description="The programme, priority or chantier (`by`).")
    year: int
    actions: int = Field(description="Actions of the group following the indicator.")
    complete: int = Field(
        description="Of them, those with a baseline, a target for the year and an actual up to it."
    )
    baseline: IndicatorValue | None = Field(description="Σ baselines (those that exist).")
    target: IndicatorValue | None = Field(description="Σ targets for the year.")
    actual: IndicatorValue | None = Field(description="Σ last actuals up to 31 December.")
    achievement: Rate | None = Field(
        description="(ΣA − ΣB) ÷ (ΣT − ΣB) over the complete actions only, rounded half away "
        "from zero to four decimals; null when none is complete or ΣT = ΣB."
    )


class IndicatorCube(BaseModel):
    by: str
    items: list[IndicatorCell]


class ReceivedValueBatch(ReceivedBatch[IndicatorValueItem]):
    """A batch of values as validated at the HTTP edge (see ReceivedBatch): every bad item
    reported together with those the service finds against the database."""

    batch_model = IndicatorValueBatch
    item_model = IndicatorValueItem


ValueBatchBody = Annotated[
    ReceivedValueBatch,
    Body(),
    PlainValidator(ReceivedValueBatch.validate),
    WithJsonSchema({"$ref": "#/components/schemas/IndicatorValueBatch"}),
]
"""Documented as an IndicatorValueBatch; the route gets every item checked."""
