"""Random records (increasing and decreasing indicators, missing baselines and targets, several
actuals a year, ties of one day): each record's achievement equals an independent SQL
computation, and the roll-ups by programme, priority and chantier equal an independent Python
computation from what was sent."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import make_action
from tests.indicators.helpers import make_indicator, record_url

Headers = dict[str, str]
YEARS = range(2020, 2027)  # the seeded programme's period


@dataclass
class Sent:
    action_id: str
    chantier_id: str
    indicator_id: str
    baseline: Decimal | None
    targets: dict[int, Decimal]
    actuals: list[tuple[date, Decimal]] = field(default_factory=list)  # in the order sent

    def last_actual(self, year: int) -> Decimal | None:
        # Sorted by date, stably: of one day, the one sent last (recorded last) wins.
        upto = [v for on, v in sorted(self.actuals, key=lambda a: a[0]) if on <= date(year, 12, 31)]
        return upto[-1] if upto else None


def _value(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(-5000, 100000)) / Decimal(rng.choice([1, 10, 100]))


def _rate(num: Decimal, den: Decimal) -> str:
    return str((num / den).quantize(Decimal("0.0001"), ROUND_HALF_UP))


# Independent of the API's Python: the last actual by DISTINCT ON, the formula in SQL.
ORACLE = text(
    """
SELECT r.id, t.year,
       round((last.value - r.baseline_value) / nullif(t.value - r.baseline_value, 0), 4) AS rate
FROM action_indicators r
JOIN indicator_targets t ON t.action_indicator_id = r.id
LEFT JOIN (
    SELECT DISTINCT ON (x.action_indicator_id, y) x.action_indicator_id, y, x.value
    FROM indicator_actuals x CROSS JOIN generate_series(2020, 2026) AS y
    WHERE x.measured_on < make_date(y + 1, 1, 1)
    ORDER BY x.action_indicator_id, y, x.measured_on DESC, x.id DESC
) last ON last.action_indicator_id = r.id AND last.y = t.year
WHERE r.indicator_id = ANY(CAST(:ids AS uuid[]))
"""
)


async def _world(
    rng: random.Random, client: httpx.AsyncClient, admin: Headers
) -> tuple[list[dict[str, Any]], list[Sent]]:
    indicators = [
        await make_indicator(client, admin, direction=rng.choice(["increase", "decrease"]))
        for _ in range(2)
    ]
    chantiers = (await client.get("/v1/chantiers", params={"limit": 3})).json()["items"]
    today = datetime.now(UTC).date()
    sent: list[Sent] = []
    for _ in range(10):
        chantier = rng.choice(chantiers)
        action = await make_action(client, admin, chantier_id=chantier["id"])
        for ind in indicators:
            if rng.random() < 0.2:
                continue
            record = Sent(
                action["id"],
                chantier["id"],
                ind["id"],
                None if rng.random() < 0.3 else _value(rng),
                {y: _value(rng) for y in rng.sample(list(YEARS), rng.randint(0, 4))},
            )
            if record.baseline is not None and record.targets and rng.random() < 0.2:
                record.targets[min(record.targets)] = record.baseline  # T = B: null
            for _ in range(rng.randint(0, 5)):
                on = date(2020, 1, 1) + timedelta(
                    days=rng.randint(0, (today - date(2020, 1, 1)).days)
                )
                record.actuals.append((on, _value(rng)))
            if record.actuals and rng.random() < 0.3:
                record.actuals.append((record.actuals[0][0], _value(rng)))  # a tie of one day
            body = {
                "baseline": None
                if record.baseline is None
                else {"value": str(record.baseline), "on": "2020-01-01"},
                "targets": [{"year": y, "value": str(v)} for y, v in record.targets.items()],
                "actuals": [{"on": on.isoformat(), "value": str(v)} for on, v in record.actuals],
            }
            put = await client.put(record_url(action["id"], ind["id"]), json=body, headers=admin)
            assert put.status_code == 201, put.text
            sent.append(record)
    return indicators, sent


def _expected(
    sent: list[Sent], groups: dict[str, list[str]], indicators: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The roll-up, from what was sent: `groups[chantier_id]` are the chantier's groups."""
    cells: dict[tuple[str, str, int], list[Sent]] = defaultdict(list)
    for record in sent:
        for group in groups[record.chantier_id]:
            for year in YEARS:
                cells[(record.indicator_id, group, year)].append(record)
    codes = {ind["id"]: ind["code"] for ind in indicators}
    out = []
    for (indicator, group, year), records in cells.items():
        targets = [r.targets[year] for r in records if year in r.targets]
        actuals = [a for r in records if (a := r.last_actual(year)) is not None]
        if not targets and not actuals:
            continue
        baselines = [r.baseline for r in records if r.baseline is not None]
        complete = [
            r
            for r in records
            if r.baseline is not None and year in r.targets and r.last_actual(year) is not None
        ]
        gained = sum((r.last_actual(year) - r.baseline for r in complete), Decimal(0))  # type: ignore[operator]
        promised = sum((r.targets[year] - r.baseline for r in complete), Decimal(0))  # type: ignore[operator]
        out.append(
            {
                "key": (codes[indicator], group, year),
                "actions": len(records),
                "complete": len(complete),
                "baseline": sum(baselines) if baselines else None,
                "target": sum(targets) if targets else None,
                "actual": sum(actuals) if actuals else None,
                "achievement": _rate(gained, promised) if complete and promised else None,
            }
        )
    return sorted(out, key=lambda c: c["key"])


def _got(cube: dict[str, Any]) -> list[dict[str, Any]]:
    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return sorted(
        (
            {
                "key": (c["indicator_code"], c["group_id"], c["year"]),
                "actions": c["actions"],
                "complete": c["complete"],
                "baseline": number(c["baseline"]),
                "target": number(c["target"]),
                "actual": number(c["actual"]),
                "achievement": c["achievement"],
            }
            for c in cube["items"]
        ),
        key=lambda c: c["key"],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_achievement_and_rollups_match_independent_computations(
    client: httpx.AsyncClient, admin: Headers, connection: AsyncConnection, seed: int
) -> None:
    rng = random.Random(seed)
    indicators, sent = await _world(rng, client, admin)
    ids = [ind["id"] for ind in indicators]

    oracle = {
        (str(row.id), row.year): None if row.rate is None else str(row.rate)
        for row in await connection.execute(ORACLE, {"ids": ids})
    }
    got = {}
    for record in sent:
        body = (await client.get(record_url(record.action_id, record.indicator_id))).json()
        for entry in body["achievement"]:
            got[(body["id"], entry["year"])] = entry["achievement"]
            assert entry["actual"] == (
                None if (a := record.last_actual(entry["year"])) is None else str(a)
            )
    assert got == oracle
    assert any(v is not None for v in got.values())
    assert any(v is None for v in got.values())

    chantiers = (await client.get("/v1/chantiers", params={"limit": 500})).json()["items"]
    programme = chantiers[0]["programme_id"]
    dimensions = {
        "chantier": {c["id"]: [c["id"]] for c in chantiers},
        "priority": {c["id"]: c["priority_ids"] for c in chantiers},
        "programme": {c["id"]: [programme] for c in chantiers},
    }
    for by, groups in dimensions.items():
        expected = _expected(sent, groups, indicators)
        cells: list[dict[str, Any]] = []
        for indicator_id in ids:
            params = {"by": by, "indicator_id": indicator_id}
            cells += (await client.get("/v1/aggregates/indicators", params=params)).json()["items"]
        assert _got({"items": cells}) == expected, by
