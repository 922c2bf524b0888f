"""The closed vocabularies of the domain, shared by models (CHECK constraints) and schemas."""

from enum import StrEnum


class ActionStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"


class PartnerKind(StrEnum):
    metropole = "metropole"
    commune = "commune"
    department = "department"
    region = "region"
    state = "state"
    public_bank = "public_bank"
    eu = "eu"
    private = "private"
    other = "other"


class Instrument(StrEnum):
    grant = "grant"
    loan = "loan"
    equity = "equity"
    guarantee = "guarantee"
    own_funds = "own_funds"
    engineering = "engineering"


class CommitmentStatus(StrEnum):
    planned = "planned"
    committed = "committed"
    cancelled = "cancelled"


class Role(StrEnum):
    admin = "admin"
    editor = "editor"
    partner = "partner"


def sql_in(column: str, values: type[StrEnum]) -> str:
    """A CHECK expression that keeps `column` inside an enum."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class ProgrammeStatus(StrEnum):
    draft = "draft"
    active = "active"
    closed = "closed"


class PaymentKind(StrEnum):
    disbursement = "disbursement"
    reversal = "reversal"
    adjustment = "adjustment"


class ScheduleKind(StrEnum):
    initial = "initial"
    revised = "revised"


class MilestoneKind(StrEnum):
    study = "study"
    authorisation = "authorisation"
    tender = "tender"
    works_start = "works_start"
    delivery = "delivery"
    payment = "payment"
    other = "other"


class MilestoneStatus(StrEnum):
    scheduled = "scheduled"
    met = "met"
    missed = "missed"
    cancelled = "cancelled"


OPEN_MILESTONE_STATUSES = (MilestoneStatus.scheduled, MilestoneStatus.missed)
"""The statuses that can make an action late (missed, or scheduled and overdue): the partial
index of the `late` filter covers only these rows."""


class IndicatorDirection(StrEnum):
    increase = "increase"
    decrease = "decrease"


class IndicatorAggregation(StrEnum):
    sum = "sum"
    none = "none"
