"""All ORM models, imported here so that Alembic sees the whole metadata."""

from app.models.action import Action
from app.models.action_count import ChantierActionCount
from app.models.api_key import ApiKey, ApiKeyProgramme
from app.models.base import Base, Resource
from app.models.cashflow_rollup import CashflowRollup, CashflowRollupRemoval
from app.models.change import Change, ChangeCommit
from app.models.chantier import Chantier, ChantierPriority, ChantierTarget
from app.models.commitment import Commitment
from app.models.commitment_rollup import CommitmentRollup
from app.models.financing_plan import FinancingPlan, FinancingPlanLine
from app.models.idempotency_key import IdempotencyKey
from app.models.indicator import ActionIndicator, Indicator, IndicatorActual, IndicatorTarget
from app.models.milestone import Milestone
from app.models.partner import Partner
from app.models.payment import Payment
from app.models.priority import Priority
from app.models.programme import Programme
from app.models.programme_year import ProgrammeYear
from app.models.schedule import ScheduleLine, ScheduleVersion
from app.models.territorial_rollup import TerritorialRollup
from app.models.territory import Territory, TerritoryKind, TerritorySource

__all__ = [
    "Action",
    "ActionIndicator",
    "ApiKey",
    "ApiKeyProgramme",
    "Base",
    "CashflowRollup",
    "CashflowRollupRemoval",
    "Change",
    "ChangeCommit",
    "Chantier",
    "ChantierActionCount",
    "ChantierPriority",
    "ChantierTarget",
    "Commitment",
    "CommitmentRollup",
    "FinancingPlan",
    "FinancingPlanLine",
    "IdempotencyKey",
    "Indicator",
    "IndicatorActual",
    "IndicatorTarget",
    "Milestone",
    "Partner",
    "Payment",
    "Priority",
    "Programme",
    "ProgrammeYear",
    "Resource",
    "ScheduleLine",
    "ScheduleVersion",
    "TerritorialRollup",
    "Territory",
    "TerritoryKind",
    "TerritorySource",
]
