"""`relance demo`'s milestones: each synthetic action gets its study, authorisation, tender,
works start and delivery, dated from its own start and end dates, with statuses that agree
with today and the action's status (what is past is mostly met, a few are late)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.milestones.repository import MilestoneRepository
from app.models import Milestone
from app.models.enums import ActionStatus, MilestoneKind, MilestoneStatus

# Each step, and how long before the works start (days; the delivery is the action's end).
STEPS = (
    (MilestoneKind.study, "Études préalables achevées", 240),
    (MilestoneKind.authorisation, "Autorisations obtenues", 90),
    (MilestoneKind.tender, "Marché de travaux notifié", 30),
    (MilestoneKind.works_start, "Ordre de service des travaux", 0),
)


def _status(
    rng: random.Random, due_on: date, action_status: str, today: date
) -> tuple[MilestoneStatus, date | None]:
    """A past milestone of a completed action is met (early or late); of a running or planned
    one, met mostly, sometimes still scheduled (overdue: the action is late) or missed."""
    if due_on >= today:
        return MilestoneStatus.scheduled, None
    if action_status == ActionStatus.cancelled:
        return MilestoneStatus.cancelled, None
    draw = rng.random()
    if action_status != ActionStatus.completed and draw < 0.12:
        return MilestoneStatus.scheduled, None
    if action_status != ActionStatus.completed and draw < 0.16:
        return MilestoneStatus.missed, None
    met_on = min(today, due_on + timedelta(days=rng.randint(-15, 75)))
    return MilestoneStatus.met, met_on


async def add_demo_milestones(session: AsyncSession, seed_value: int = 2020) -> int:
    """Milestones for every synthetic action that has its dates; returns how many were made."""
    repo = MilestoneRepository(session)
    rng = random.Random(seed_value)  # noqa: S311 (demo data, not secrets)
    today = await repo.today()
    made: list[Milestone] = []
    for action in await repo.synthetic_actions():
        if action.start_date is None or action.end_date is None:
            continue
        steps = [(kind, title, action.start_date - timedelta(days=d)) for kind, title, d in STEPS]
        steps.append((MilestoneKind.delivery, "Mise en service", action.end_date))
        for kind, title, due_on in steps:
            status, met_on = _status(rng, due_on, action.status, today)
            made.append(
                Milestone(
                    action_id=action.id,
                    title=title,
                    kind=kind.value,
                    due_on=due_on,
                    met_on=met_on,
                    status=status.value,
                )
            )
    await repo.add_all(made)
    return len(made)
