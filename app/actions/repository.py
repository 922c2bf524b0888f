"""Action rows, the SQL of the list's filters, and the batch upsert by code or external id."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import text

from app.actions.schemas import ActionFilters, ActionKey
from app.common.repository import Condition, Repository, UpsertShape, bulk_upsert, conditions, when
from app.milestones.repository import late_filter
from app.models import Action


@dataclass(frozen=True)
class Columns:
    """Actions as sent in a batch, one list per column (the shape unnest() takes). The communes
    travel as one comma-separated string per action: unnest() would flatten an array of
    arrays."""

    code: list[str]
    chantier_id: list[uuid.UUID]
    title: list[str]
    description: list[str]
    status: list[str]
    progress: list[int]
    weight: list[int]
    start_date: list[date | None]
    end_date: list[date | None]
    communes: list[str]
    lead_partner_id: list[uuid.UUID | None]
    external_id: list[str | None]

    def __len__(self) -> int:
        return len(self.code)


_TYPES = {
    "code": "text[]",
    "chantier_id": "uuid[]",
    "title": "text[]",
    "description": "text[]",
    "status": "text[]",
    "progress": "int[]",
    "weight": "int[]",
    "start_date": "date[]",
    "end_date": "date[]",
    "communes": "text[]",
    "lead_partner_id": "uuid[]",
    "external_id": "text[]",
}
_COMMUNES = {"communes": "CAST(string_to_array(r.communes, ',') AS varchar(5)[])"}
UPSERTS = {
    key: UpsertShape("actions", key.value, _TYPES, _COMMUNES).statement() for key in ActionKey
}

# The stored actions a batch names, by its key, that an item may not replace as sent: each
# item's position (n), the stored action's other unique field, its programme, and how many of
# its commitments fall outside the period of the programme of the chantier the item puts it
# in. Only those moved to another chantier, or (`within` set: a scoped key) of a programme
# outside `within`, come back: the nightly batch that keeps its chantiers decodes no row.
# One statement for the whole batch, over the key's unique index.
_STORED = """
SELECT s.n, a.code, a.external_id, a.programme_id,
       CASE WHEN a.chantier_id = s.chantier_id THEN 0 ELSE (
         SELECT count(*) FROM commitments c JOIN chantiers ch ON ch.id = s.chantier_id
         JOIN programmes p ON p.id = ch.programme_id
         WHERE c.action_id = a.id AND c.year NOT BETWEEN p.start_year AND p.end_year
       ) END AS outside
FROM unnest(CAST(:keys AS text[]), CAST(:chantier_id AS uuid[])) WITH ORDINALITY
     AS s(key, chantier_id, n)
JOIN actions a ON a.{key} = s.key
WHERE a.chantier_id <> s.chantier_id
   OR a.programme_id <> ALL(coalesce(CAST(:within AS uuid[]), ARRAY[a.programme_id]))
"""
STORED = {key: text(_STORED.format(key=key.value)) for key in ActionKey}

# Stored actions holding one of these values of the other unique field, other than the action
# the item names by its key: who already has it (a batch sent again finds none, decodes none).
_HOLDERS = """
SELECT s.value, a.{key}
FROM unnest(CAST(:values AS text[]), CAST(:keys AS text[])) AS s(value, key)
JOIN actions a ON a.{field} = s.value
WHERE s.value IS NOT NULL AND a.{key} IS DISTINCT FROM s.key
"""
HOLDERS = {
    key: text(_HOLDERS.format(field=other.value, key=key.value))
    for key, other in (
        (ActionKey.code, ActionKey.external_id),
        (ActionKey.external_id, ActionKey.code),
    )
}


@dataclass(frozen=True)
class StoredAction:
    """What a batch item replaces: its position in the batch (from 0), and the stored action."""

    n: int
    code: str
    external_id: str | None
    programme_id: uuid.UUID
    outside: int
    """Its commitments whose year the new chantier's programme leaves out."""


class ActionRepository(Repository[Action]):
    model = Action

    def where(self, filters: ActionFilters) -> list[Condition]:
        return conditions(
            when(filters.programme_id, Action.programme_id.in_),
            when(filters.chantier_id, Action.chantier_id.in_),
            when(filters.lead_partner_id, Action.lead_partner_id.in_),
            when(filters.status, Action.status.in_),
            when(filters.commune, Action.communes.overlap),
            when(filters.code, Action.code.in_),
            when(filters.external_id, Action.external_id.in_),
            when(filters.synthetic, Action.synthetic.is_),
            when(filters.late, late_filter),
        )

    async def stored(
        self, key: ActionKey, columns: Columns, within: Collection[uuid.UUID] | None
    ) -> list[StoredAction]:
        """The stored actions the batch's items name by `key` that move to another chantier
        or, with `within`, belong to a programme outside it."""
        keys = getattr(columns, key.value)
        params = {
            "keys": keys,
            "chantier_id": columns.chantier_id,
            "within": None if within is None else list(within),
        }
        rows = await self.session.execute(STORED[key], params)
        return [StoredAction(int(n) - 1, *rest) for n, *rest in rows.all()]

    async def holders(
        self, key: ActionKey, values: Sequence[str | None], keys: Sequence[str | None]
    ) -> dict[str, str]:
        """For each value of the field other than `key` (`values[n]`, sent with `keys[n]`)
        that a stored action other than the one `keys[n]` names holds: that action's `key`."""
        if not any(v is not None for v in values):
            return {}
        params = {"values": list(values), "keys": list(keys)}
        rows = await self.session.execute(HOLDERS[key], params)
        return {value: holder for value, holder in rows.all()}

    async def upsert(self, key: ActionKey, columns: Columns) -> tuple[int, int]:
        """Insert or replace the actions by `key`; how many were created and how many updated."""
        if not len(columns):
            return 0, 0
        params = {f.name: getattr(columns, f.name) for f in fields(columns)}
        return await bulk_upsert(self.session, UPSERTS[key], params)


def communes_of(columns: Columns) -> Sequence[str]:
    """Every commune code the batch names, once."""
    return sorted({code for joined in columns.communes if joined for code in joined.split(",")})
