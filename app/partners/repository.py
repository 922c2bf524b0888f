"""Partner rows, the SQL of the list's filters, and the batch upsert by code."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields

from sqlalchemy import text

from app.common.repository import Condition, Repository, UpsertShape, bulk_upsert, conditions, when
from app.models import Partner
from app.partners.schemas import PartnerFilters


@dataclass(frozen=True)
class Columns:
    """Partners as sent in a batch, one list per column (the shape unnest() takes)."""

    code: list[str]
    name: list[str]
    kind: list[str]
    siren: list[str | None]
    siret: list[str | None]

    def __len__(self) -> int:
        return len(self.code)


UPSERT = UpsertShape(
    "partners",
    "code",
    {"code": "text[]", "name": "text[]", "kind": "text[]", "siren": "text[]", "siret": "text[]"},
).statement()

# The stored partners holding one of these SIRENs or SIRETs: their code.
HOLDERS = text(
    """
SELECT siren AS value, code FROM partners WHERE siren = ANY(CAST(:values AS text[]))
UNION ALL
SELECT siret, code FROM partners WHERE siret = ANY(CAST(:values AS text[]))
"""
)


class PartnerRepository(Repository[Partner]):
    model = Partner

    def where(self, filters: PartnerFilters) -> list[Condition]:
        return conditions(
            when(filters.code, Partner.code.in_),
            when(filters.kind, Partner.kind.in_),
        )

    async def holders(self, values: Collection[str]) -> dict[str, str]:
        """For each of these SIRENs and SIRETs held by a stored partner, that partner's code."""
        if not values:
            return {}
        rows = await self.session.execute(HOLDERS, {"values": list(values)})
        return {value: code for value, code in rows.all()}

    async def upsert(self, columns: Columns) -> tuple[int, int]:
        """Insert or replace the partners by code; how many were created and how many updated."""
        if not len(columns):
            return 0, 0
        params = {f.name: getattr(columns, f.name) for f in fields(columns)}
        return await bulk_upsert(self.session, UPSERT, params)
