"""Random writes on commitments, schedules and payments in plain SQL, respecting the rules of
issue 12 (lines summing to the amount, payments within it, nothing dated before the
commitment's year), and the roll-up and measures computed independently from the base tables."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CENT = Decimal("0.01")
INSTRUMENTS = ["grant", "loan", "equity", "guarantee", "own_funds", "engineering"]
STATUSES = ["planned", "committed", "committed", "committed", "cancelled"]
SIGNED = "CASE WHEN p.kind = 'reversal' THEN -p.amount ELSE p.amount END"


async def rows(conn: AsyncConnection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]


def split(rng: random.Random, amount: Decimal, first_year: int) -> list[tuple[int, Decimal]]:
    """A schedule: 1 to 4 lines from first_year on (past the programme's end too), summing to
    amount."""
    years = sorted(rng.sample(range(first_year, first_year + 6), rng.randint(1, 4)))
    cents = int(amount * 100)
    if cents < len(years):
        years = years[:1]
    cuts = sorted(rng.sample(range(1, cents), len(years) - 1)) if len(years) > 1 else []
    bounds = [0, *cuts, cents]
    return [(y, Decimal(bounds[i + 1] - bounds[i]) / 100) for i, y in enumerate(years)]


class World:
    """Writes through one connection; `step()` makes one random write."""

    def __init__(self, conn: AsyncConnection, seed: int, tag: str = "W") -> None:
        self.conn = conn
        self.rng = random.Random(seed)
        self.tag = tag
        self.seed = seed
        self.serial = 0

    def _ref(self) -> str:
        self.serial += 1
        return f"{self.tag}-{self.seed}-{self.serial}"

    async def setup(self, actions: int = 6) -> None:
        """Partners and `actions` new actions of this writer (its earlier ones are kept)."""
        chantiers = await rows(self.conn, "SELECT id FROM chantiers ORDER BY number")
        self.chantiers = [c["id"] for c in chantiers]
        for code in ("CF_ETAT", "CF_REGION"):
            await self.conn.execute(
                text(
                    "INSERT INTO partners (code, name, kind, version) VALUES (:c, :c, 'state', 1) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"c": f"{code}_{self.tag}"},
            )
        self.partners = [p["id"] for p in await rows(self.conn, "SELECT id FROM partners")]
        for _ in range(actions):
            await self.conn.execute(
                text(
                    "INSERT INTO actions (code, chantier_id, title, communes, version) "
                    "VALUES (:code, :chantier, 'Action', :communes, 1)"
                ),
                {
                    "code": self._ref(),
                    "chantier": self.rng.choice(self.chantiers),
                    "communes": self.rng.choice([[], ["13055"], ["13055", "13001"]]),
                },
            )
        self.actions = [
            a["id"]
            for a in await rows(
                self.conn, "SELECT id FROM actions WHERE code LIKE :t", t=f"{self.tag}-%"
            )
        ]

    async def commitments(self) -> list[dict[str, Any]]:
        return await rows(
            self.conn,
            "SELECT c.id, c.year, c.amount, c.partner_id, coalesce(sum(" + SIGNED + "), 0) AS paid"
            " FROM commitments c LEFT JOIN payments p ON p.commitment_id = c.id"
            " JOIN actions a ON a.id = c.action_id WHERE a.code LIKE :t"
            " GROUP BY c.id ORDER BY c.external_ref",
            t=f"{self.tag}-%",
        )

    async def write_schedule(self, commitment_id: Any, amount: Decimal, year: int) -> None:
        await self.conn.execute(
            text("DELETE FROM schedule_lines WHERE commitment_id = :id"), {"id": commitment_id}
        )
        lines = split(self.rng, amount, year)
        await self.conn.execute(
            text(
                "INSERT INTO schedule_lines (commitment_id, year, amount) "
                "SELECT :id, y, a FROM unnest(CAST(:years AS int[]), CAST(:amounts AS numeric[]))"
                " AS l (y, a)"
            ),
            {"id": commitment_id, "years": [y for y, _ in lines], "amounts": [a for _, a in lines]},
        )

    async def new_commitment(self) -> None:
        amount = Decimal(self.rng.randint(100, 5_000_000)) / 100
        year = self.rng.randint(2020, 2026)
        row = await rows(
            self.conn,
            "INSERT INTO commitments (action_id, partner_id, external_ref, year, amount,"
            " instrument, status, version) VALUES (:a, :p, :ref, :y, :amount, :i, :s, 1)"
            " RETURNING id",
            a=self.rng.choice(self.actions),
            p=self.rng.choice(self.partners),
            ref=self._ref(),
            y=year,
            amount=amount,
            i=self.rng.choice(INSTRUMENTS),
            s=self.rng.choice(STATUSES),
        )
        await self.write_schedule(row[0]["id"], amount, year)

    async def pay(self, c: dict[str, Any]) -> None:
        room = c["amount"] - c["paid"]
        day = date(c["year"], 1, 1) + timedelta(days=self.rng.randint(0, 365 * 6))
        kind = self.rng.choice(["disbursement", "disbursement", "reversal", "adjustment"])
        if kind == "reversal" or (kind == "adjustment" and self.rng.random() < 0.5):
            if c["paid"] < CENT:
                return
            amount = Decimal(self.rng.randint(1, int(c["paid"] * 100))) / 100
            signed = -amount
            stored = amount if kind == "reversal" else -amount
        else:
            if room < CENT:
                return
            amount = Decimal(self.rng.randint(1, int(room * 100))) / 100
            signed = stored = amount
        await self.conn.execute(
            text(
                "INSERT INTO payments (commitment_id, partner_id, paid_on, amount, kind,"
                " external_ref, version) VALUES (:c, :p, :d, :a, :k, :ref, 1)"
            ),
            {"c": c["id"], "p": c["partner_id"], "d": day, "a": stored, "k": kind,
             "ref": self._ref()},
        )  # fmt: skip
        c["paid"] += signed

    async def step(self) -> str:
        """One random write; returns its name."""
        rng, conn = self.rng, self.conn
        existing = await self.commitments()
        op = rng.choice(
            ["new", "new", "pay", "pay", "pay", "pay", "revise", "shift_lines", "move_payment",
             "shift_payments", "drop_payment", "regrain", "move_action", "grow", "delete"]
        )  # fmt: skip
        if not existing or op == "new":
            await self.new_commitment()
            return "new"
        c = rng.choice(existing)
        if op == "pay":
            for _ in range(rng.randint(1, 3)):
                await self.pay(c)
        elif op == "revise":
            await self.write_schedule(c["id"], c["amount"], c["year"])
        elif op == "shift_lines":  # one statement updating two lines, the sum kept
            lines = await rows(
                conn,
                "SELECT year, amount FROM schedule_lines WHERE commitment_id = :id",
                id=c["id"],
            )
            if len(lines) >= 2:
                a, b = rng.sample(lines, 2)
                moved = (a["amount"] - CENT) if a["amount"] > CENT else Decimal(0)
                moved = Decimal(rng.randint(0, int(moved * 100))) / 100
                await conn.execute(
                    text(
                        "UPDATE schedule_lines SET amount = amount + CASE year"
                        " WHEN :a THEN -CAST(:m AS numeric) ELSE CAST(:m AS numeric) END"
                        " WHERE commitment_id = :id AND year IN (:a, :b)"
                    ),
                    {"a": a["year"], "b": b["year"], "m": moved, "id": c["id"]},
                )
        elif op == "move_payment":
            await conn.execute(
                text(
                    "UPDATE payments SET paid_on = make_date(:y, 1 + (random() * 11)::int, 1) + 3"
                    " WHERE id = (SELECT id FROM payments WHERE commitment_id = :id"
                    " ORDER BY id LIMIT 1)"
                ),
                {"y": rng.randint(c["year"], c["year"] + 5), "id": c["id"]},
            )
        elif op == "shift_payments":  # many rows in one statement, across commitments
            await conn.execute(
                text(
                    "UPDATE payments p SET paid_on = p.paid_on + 40 FROM commitments c"
                    " WHERE c.id = p.commitment_id AND c.partner_id = :partner"
                ),
                {"partner": c["partner_id"]},
            )
        elif op == "drop_payment":
            # the latest payment whose removal keeps the total within [0, amount]
            await conn.execute(
                text(
                    "DELETE FROM payments WHERE id = (SELECT p.id FROM payments p"
                    " WHERE p.commitment_id = :id AND CAST(:paid AS numeric) - (" + SIGNED + ")"
                    " BETWEEN 0 AND :amount ORDER BY p.paid_on DESC, p.id LIMIT 1)"
                ),
                {"id": c["id"], "paid": c["paid"], "amount": c["amount"]},
            )
        elif op == "regrain":
            column = rng.choice(["status", "instrument", "partner_id", "action_id"])
            value = {
                "status": rng.choice(STATUSES),
                "instrument": rng.choice(INSTRUMENTS),
                "partner_id": rng.choice(self.partners),
                "action_id": rng.choice(self.actions),
            }[column]
            await conn.execute(
                text(f"UPDATE commitments SET {column} = :v, version = version + 1 WHERE id = :id"),
                {"v": value, "id": c["id"]},
            )
        elif op == "move_action":
            await conn.execute(
                text("UPDATE actions SET chantier_id = :ch, version = version + 1 WHERE id = :a"),
                {"ch": rng.choice(self.chantiers), "a": rng.choice(self.actions)},
            )
        elif op == "grow":  # a new amount and its schedule in one transaction
            amount = c["amount"] + Decimal(rng.randint(1, 100_000)) / 100
            await conn.execute(
                text("UPDATE commitments SET amount = :a, version = version + 1 WHERE id = :id"),
                {"a": amount, "id": c["id"]},
            )
            await self.write_schedule(c["id"], amount, c["year"])
        elif op == "delete":
            await conn.execute(text("DELETE FROM commitments WHERE id = :id"), {"id": c["id"]})
        return op


ROLLUP_ORACLE = f"""
SELECT a.programme_id, a.chantier_id, c.partner_id, f.year, f.month, c.status, c.instrument,
       sum(f.scheduled) AS scheduled_sum, sum(f.paid) AS paid_sum,
       sum(f.lines) AS line_count, sum(f.payments) AS payment_count
FROM (SELECT commitment_id, year, 0 AS month, amount AS scheduled, 0 AS paid, 1 AS lines,
             0 AS payments FROM schedule_lines
      UNION ALL
      SELECT p.commitment_id, extract(year FROM p.paid_on)::int, 0, 0, {SIGNED}, 0, 1
      FROM payments p
      UNION ALL
      SELECT p.commitment_id, extract(year FROM p.paid_on)::int,
             extract(month FROM p.paid_on)::int, 0, {SIGNED}, 0, 1
      FROM payments p) AS f
JOIN commitments c ON c.id = f.commitment_id
JOIN actions a ON a.id = c.action_id
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


async def rollup_differences(conn: AsyncConnection) -> list[Any]:
    """Rows in one of the roll-up and its GROUP BY over the base tables and not the other."""
    columns = (
        "programme_id, chantier_id, partner_id, year, month, status, instrument,"
        " scheduled_sum, paid_sum, line_count, payment_count"
    )
    sql = f"""
        (SELECT 'rollup' AS side, {columns} FROM cashflow_rollups
         EXCEPT ALL SELECT 'rollup', {columns} FROM ({ROLLUP_ORACLE}) o)
        UNION ALL
        (SELECT 'oracle', {columns} FROM ({ROLLUP_ORACLE}) o
         EXCEPT ALL SELECT 'oracle', {columns} FROM cashflow_rollups)
    """
    return list((await conn.execute(text(sql))).all())
