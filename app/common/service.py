"""The service base of a resource: found or 404, If-Match or 412, fields applied as sent, and
public hooks where a feature adds its rules."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.http import check_if_match
from app.common.principal import Principal, programmes_within
from app.common.repository import Repository
from app.config import Settings
from app.errors import NotFound
from app.models import Resource

M = TypeVar("M", bound=Resource)
R = TypeVar("R", bound=Repository[Any])


class ResourceService(Generic[M, R]):
    """Get, create, update and delete one resource; a feature overrides the hooks:

    - `programme_of(obj)`: the programme a stored row belongs to (None: shared by all). A key
      scoped to other programmes does not reach the row (see `check_access`).
    - `check_access(obj)`: may the caller write this stored row? Out of reach answers exactly
      like a missing row (`raise self.missing(obj.id)`), before any If-Match comparison. By
      default: out of reach when the row's programme is outside the caller's scope.
    - `check_allowed(values)`: may the caller set these values? (403 if not.)
    - `validate(values, current)`: the rules pydantic cannot see (programme period, references
      that must exist), one 422 naming every bad field; `current` is None on create.
    - `build(values)` and `apply(obj, changes)`: make the row, change it.
    """

    repository: type[R]
    noun: ClassVar[str]

    def __init__(
        self, session: AsyncSession, settings: Settings, principal: Principal | None = None
    ) -> None:
        self.repo: R = self.repository(session)
        self.settings = settings
        self.principal = principal

    def missing(self, id: uuid.UUID) -> NotFound:
        return NotFound(f"No {self.noun} has id {id}.")

    @property
    def within(self) -> frozenset[uuid.UUID] | None:
        """The programmes the caller writes inside (a scoped key's); None: every programme.
        References a body makes to rows of other programmes are as if those rows were missing."""
        return programmes_within(self.principal)

    # -- hooks ---------------------------------------------------------------------------------

    def programme_of(self, obj: M) -> uuid.UUID | None:
        """Shared data: the row belongs to no programme in particular."""
        return None

    def check_access(self, obj: M) -> None:
        """A row of a programme outside the caller's scope answers like a missing one."""
        programme = self.programme_of(obj)
        principal = self.principal
        if programme is not None and principal is not None and not principal.reaches(programme):
            raise self.missing(obj.id)

    def check_allowed(self, values: Mapping[str, Any]) -> None:
        """Reference data: a writer may send any field its input model admits."""

    async def validate(self, values: Mapping[str, Any], current: M | None) -> None:
        """Nothing beyond the input model and the database's constraints."""

    async def build(self, values: dict[str, Any]) -> M:
        obj: M = self.repo.model(**values)
        return obj

    async def apply(self, obj: M, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(obj, field, value)

    # -- operations ----------------------------------------------------------------------------

    async def get(self, id: uuid.UUID) -> M:
        obj: M | None = await self.repo.get(id)
        if obj is None:
            raise self.missing(id)
        return obj

    async def get_row(self, id: uuid.UUID, columns: Sequence[str]) -> Mapping[str, Any]:
        """The row's columns (a read model's: app.common.rows), or 404, as `get`."""
        row = await self.repo.get_row(id, columns)
        if row is None:
            raise self.missing(id)
        return row

    async def get_for_write(self, id: uuid.UUID, if_match: str | None) -> M:
        """The row, locked FOR UPDATE so that of two writers holding one ETag only the first
        wins; access is checked before If-Match, so a 412 never shows a foreign row's ETag."""
        obj: M | None = await self.repo.get(id, for_update=True)
        if obj is None:
            raise self.missing(id)
        self.check_access(obj)
        check_if_match(if_match, obj.etag)
        return obj

    async def create(self, data: BaseModel) -> M:
        values = data.model_dump()
        self.check_allowed(values)
        await self.validate(values, None)
        obj: M = await self.repo.add(await self.build(values))
        return obj

    async def update(self, id: uuid.UUID, data: BaseModel, if_match: str | None) -> M:
        obj = await self.get_for_write(id, if_match)
        changes = data.model_dump(exclude_unset=True)
        self.check_allowed(changes)
        await self.validate(changes, obj)
        await self.apply(obj, changes)
        await self.repo.flush()
        return obj

    async def delete(self, id: uuid.UUID, if_match: str | None) -> None:
        await self.repo.delete(await self.get_for_write(id, if_match))
