"""Indicators: what the money buys, defined once (`indicators`) and followed per action
(`action_indicators`: a baseline, yearly targets and dated actuals)."""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Resource
from app.models.enums import IndicatorAggregation, IndicatorDirection, sql_in

# An indicator value: a decimal with at most four decimals and fifteen digits before the point.
VALUE_CHECK = "scale({0}) <= 4 AND abs({0}) < 1e15"


class Indicator(Resource):
    """A definition: what is measured, in which unit, whether more is better, and whether the
    values of several actions add up."""

    __tablename__ = "indicators"
    __table_args__ = (
        CheckConstraint(sql_in("direction", IndicatorDirection), name="direction_known"),
        CheckConstraint(sql_in("aggregation", IndicatorAggregation), name="aggregation_known"),
        CheckConstraint("code ~ '^[A-Za-z0-9_.-]{1,64}$'", name="code_format"),
    )

    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    aggregation: Mapped[str] = mapped_column(Text)
    # A programme's own indicator; null: any programme's actions may use it.
    programme_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )

    sortable = Resource.sortable | {"code", "name"}


class ActionIndicator(Resource):
    """One indicator followed on one action. Its version moves with every write of its
    baseline, targets or actuals (the API writes the children first, then this row: the
    targets' and actuals' foreign keys are deferred to commit)."""

    __tablename__ = "action_indicators"
    __table_args__ = (
        UniqueConstraint("action_id", "indicator_id"),
        UniqueConstraint("id", "programme_id"),
        # The action's programme, followed when the action moves (a target's year must stay
        # inside it: see IndicatorTarget).
        ForeignKeyConstraint(
            ["action_id", "programme_id"],
            ["actions.id", "actions.programme_id"],
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "(baseline_value IS NULL) = (baseline_on IS NULL)", name="baseline_complete"
        ),
        CheckConstraint(VALUE_CHECK.format("baseline_value"), name="baseline_value_decimal"),
    )

    action_id: Mapped[uuid.UUID] = mapped_column(index=True)
    indicator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("indicators.id", ondelete="RESTRICT"), index=True
    )
    programme_id: Mapped[uuid.UUID]
    # The definition's unit when these values were last stated (a PUT): a `none` indicator may
    # change unit later, and then `sum` is refused until every record is restated.
    unit: Mapped[str] = mapped_column(Text)
    baseline_value: Mapped[Decimal | None] = mapped_column(Numeric)
    baseline_on: Mapped[date | None]


class IndicatorTarget(Base):
    """The value an action promises for one year of its programme."""

    __tablename__ = "indicator_targets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["action_indicator_id", "programme_id"],
            ["action_indicators.id", "action_indicators.programme_id"],
            onupdate="CASCADE",
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        ForeignKeyConstraint(
            ["programme_id", "year"],
            ["programme_years.programme_id", "programme_years.year"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(VALUE_CHECK.format("value"), name="value_decimal"),
    )

    action_indicator_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    programme_id: Mapped[uuid.UUID]
    value: Mapped[Decimal] = mapped_column(Numeric)


class IndicatorActual(Base):
    """A measured value, dated; a partner's own reference names one of its values. Listed in
    (measured_on, id) order: of two values of one day, the one recorded last counts."""

    __tablename__ = "indicator_actuals"
    __table_args__ = (
        UniqueConstraint("partner_id", "external_ref"),
        ForeignKeyConstraint(
            ["action_indicator_id"],
            ["action_indicators.id"],
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        Index("ix_indicator_actuals_record_on", "action_indicator_id", "measured_on", "id"),
        CheckConstraint(VALUE_CHECK.format("value"), name="value_decimal"),
        CheckConstraint("external_ref <> ''", name="external_ref_not_empty"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action_indicator_id: Mapped[uuid.UUID]
    measured_on: Mapped[date]
    value: Mapped[Decimal] = mapped_column(Numeric)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    external_ref: Mapped[str | None] = mapped_column(Text)
