"""The change feed and history outputs: each item carries its resource as GET shows it, with the
resource's own read model, so the contract types it and the breaking-change gate covers it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from app.actions.schemas import ActionRead
from app.chantiers.schemas import ChantierRead
from app.commitments.schemas import CommitmentRead
from app.common.schemas import ResourceRead
from app.financing.schemas import FinancingPlanRead
from app.indicators.schemas import ActionIndicatorRead, IndicatorRead
from app.milestones.schemas import MilestoneRead
from app.partners.schemas import PartnerRead
from app.payments.schemas import PaymentRead
from app.priorities.schemas import PriorityRead
from app.programmes.schemas import ProgrammeRead


class ResourceName(StrEnum):
    priorities = "priorities"
    chantiers = "chantiers"
    actions = "actions"
    partners = "partners"
    commitments = "commitments"
    programmes = "programmes"
    payments = "payments"
    milestones = "milestones"
    financing_plans = "financing_plans"
    indicators = "indicators"
    action_indicators = "action_indicators"


READ_MODELS: dict[ResourceName, type[ResourceRead]] = {
    ResourceName.priorities: PriorityRead,
    ResourceName.chantiers: ChantierRead,
    ResourceName.actions: ActionRead,
    ResourceName.partners: PartnerRead,
    ResourceName.commitments: CommitmentRead,
    ResourceName.programmes: ProgrammeRead,
    ResourceName.payments: PaymentRead,
    ResourceName.milestones: MilestoneRead,
    ResourceName.financing_plans: FinancingPlanRead,
    ResourceName.indicators: IndicatorRead,
    ResourceName.action_indicators: ActionIndicatorRead,
}
"""The model GET /v1/<resource>/{id} answers with: the feed and history use the same."""

Op = Literal["create", "update", "delete"]
_DATA = "The resource at this version, exactly as GET answered then; null for a delete."


class _Change(BaseModel):
    cursor: str = Field(description="Resume after this change by sending it back as `cursor`.")
    op: Op
    resource_id: uuid.UUID
    version: int = Field(
        description="The resource's version after the change (before, for a delete)."
    )
    at: datetime = Field(description="When the writing transaction started.")


class PriorityChange(_Change):
    resource: Literal["priorities"]
    data: PriorityRead | None = Field(description=_DATA)


class ChantierChange(_Change):
    resource: Literal["chantiers"]
    data: ChantierRead | None = Field(description=_DATA)


class ActionChange(_Change):
    resource: Literal["actions"]
    data: ActionRead | None = Field(description=_DATA)


class PartnerChange(_Change):
    resource: Literal["partners"]
    data: PartnerRead | None = Field(description=_DATA)


class CommitmentChange(_Change):
    resource: Literal["commitments"]
    data: CommitmentRead | None = Field(description=_DATA)


class ProgrammeChange(_Change):
    resource: Literal["programmes"]
    data: ProgrammeRead | None = Field(description=_DATA)


class PaymentChange(_Change):
    resource: Literal["payments"]
    data: PaymentRead | None = Field(description=_DATA)


class MilestoneChange(_Change):
    resource: Literal["milestones"]
    data: MilestoneRead | None = Field(description=_DATA)


class FinancingPlanChange(_Change):
    resource: Literal["financing_plans"]
    data: FinancingPlanRead | None = Field(
        description=_DATA + " Its id is the action's; secured money as it stood then."
    )


class IndicatorChange(_Change):
    resource: Literal["indicators"]
    data: IndicatorRead | None = Field(description=_DATA)


class ActionIndicatorChange(_Change):
    resource: Literal["action_indicators"]
    data: ActionIndicatorRead | None = Field(description=_DATA)


ChangeRead = Annotated[
    PriorityChange
    | ChantierChange
    | ActionChange
    | PartnerChange
    | CommitmentChange
    | ProgrammeChange
    | PaymentChange
    | MilestoneChange
    | FinancingPlanChange
    | IndicatorChange
    | ActionIndicatorChange,
    Field(discriminator="resource"),
]
"""One change of the feed; `resource` says which read model `data` follows."""


class ChangePage(BaseModel):
    items: list[ChangeRead]
    next_cursor: str = Field(
        description="Always present: poll again with it, now or later, to get what follows."
    )
    has_more: bool = Field(description="True when more changes are ready now: fetch at once.")


class Actor(BaseModel):
    name: str = Field(description="The API key's name (or the command that wrote).")
    role: str = Field(description="admin, editor, partner or system.")


class FieldChange(BaseModel):
    before: Any = Field(description="The field as GET showed it before; null on a create.")
    after: Any = Field(description="The field as GET showed it after.")


R = TypeVar("R", bound=ResourceRead)


class VersionRead(BaseModel, Generic[R]):
    version: int
    op: Op
    at: datetime
    actor: Actor | None = Field(description="Who wrote; null when written outside the API.")
    data: R | None = Field(description=_DATA)
    changed: dict[str, FieldChange] = Field(
        description="Each field whose value changed with this version, as GET showed it before "
        "and after (`updated_at` and `etag` change every time and are left out)."
    )


class HistoryPage(BaseModel, Generic[R]):
    items: list[VersionRead[R]]
    next_cursor: str | None


HISTORY_PAGES: dict[ResourceName, type[BaseModel]] = {
    name: HistoryPage[model]  # type: ignore[valid-type]
    for name, model in READ_MODELS.items()
}
"""The history page of each resource, typed with its read model in the contract."""
