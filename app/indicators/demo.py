"""The demo's indicators: the transport chantier's tram and BHNS kilometres, park-and-ride
places and daily passengers, with baselines, yearly targets and actuals that follow each
action's dates and progress (`relance demo`)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.indicators.repository import IndicatorRepository, RecordRepository
from app.indicators.schemas import (
    ActionIndicatorPut,
    IndicatorActualInput,
    IndicatorBaseline,
    IndicatorCreate,
    IndicatorTargetInput,
)
from app.indicators.service import IndicatorService, RecordService
from app.models import Action, Programme
from app.models.enums import IndicatorAggregation

# code: name, unit (all add up across actions).
INDICATORS = {
    "TRAM_KM": ("Lignes de tramway mises en service", "km"),
    "BHNS_KM": ("Lignes de bus à haut niveau de service (BHNS) mises en service", "km"),
    "PR_PLACES": ("Places de parcs relais", "places"),
    "DAILY_PASSENGERS": (
        "Voyageurs par jour sur les lignes créées ou prolongées",
        "voyageurs/jour",
    ),
}
# The demo's transport actions, by title: (indicator, baseline, target at the action's end).
# Orders of magnitude of the Métropole's projects: the tram's northern extension (about 1.8 km,
# Gèze to La Castellane), the Aix–Marseille BHNS corridor, the Vitrolles interchange.
FIGURES = {
    "Extension nord du tramway de Marseille": [
        ("TRAM_KM", "0", "1.8"),
        ("DAILY_PASSENGERS", "0", "12000"),
    ],
    "Bus à haut niveau de service Aix-Marseille": [
        ("BHNS_KM", "0", "25.4"),
        ("DAILY_PASSENGERS", "8000", "15000"),
    ],
    "Pôle d'échanges multimodal de Vitrolles": [("PR_PLACES", "250", "700")],
}
TRANSPORT = 5


def _record(
    action: Action,
    programme: Programme,
    base: Decimal,
    goal: Decimal,
    today: date,
    rng: random.Random,
) -> ActionIndicatorPut:
    """Targets that climb from the baseline to the goal over the action's years; actuals once
    a year from its start, following its progress, never after today."""
    assert action.start_date is not None
    assert action.end_date is not None
    first = max(action.start_date.year, programme.start_year)
    last = min(action.end_date.year, programme.end_year)
    span = max(1, last - first)
    targets = [
        IndicatorTargetInput(
            year=y, value=(base + (goal - base) * (y - first) / span).quantize(Decimal("0.1"))
        )
        for y in range(first, last + 1)
    ]
    actuals = []
    for y in range(first, min(last, today.year) + 1):
        on = min(date(y, 6, 30), today)
        if on < action.start_date:
            continue
        done = Decimal(action.progress) / 100 if y == today.year else Decimal(y - first) / span
        done = min(Decimal(1), done * Decimal(rng.choice(["0.8", "0.9", "1.0"])))
        actuals.append(
            IndicatorActualInput(
                on=on, value=(base + (goal - base) * done).quantize(Decimal("0.1"))
            )
        )
    return ActionIndicatorPut(
        baseline=IndicatorBaseline(value=Decimal(base), on=date(programme.start_year, 1, 1)),
        targets=targets,
        actuals=actuals,
    )


async def transport_indicators(
    session: AsyncSession, settings: Settings, programme: Programme, today: date
) -> int:
    """The transport chantier's indicators and its demo actions' records; returns how many
    records were written."""
    rng = random.Random(13)  # noqa: S311 (demo data, not secrets)
    definitions = IndicatorService(session, settings)
    ids = {}
    for code, (name, unit) in INDICATORS.items():
        found = await IndicatorRepository(session).find_by(code=code)
        if found is None:
            found = await definitions.create(
                IndicatorCreate(
                    code=code,
                    name=name,
                    unit=unit,
                    aggregation=IndicatorAggregation.sum,
                    programme_id=programme.id,
                )
            )
        ids[code] = found.id
    records = RecordService(session)
    actions = await RecordRepository(session).demo_actions(programme.id, TRANSPORT, list(FIGURES))
    written = 0
    for action in actions:
        for code, base, goal in FIGURES[action.title]:
            data = _record(action, programme, Decimal(base), Decimal(goal), today, rng)
            await records.put(action.id, ids[code], data, None)
            written += 1
    return written
