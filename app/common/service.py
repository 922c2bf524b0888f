"""Rules every resource shares: filters, found or 404, If-Match or 412, fields applied as sent."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.http import check_if_match
from app.common.pagination import ListParams
from app.common.principal import Principal
from app.common.repository import Repository
from app.config import Settings
from app.errors import NotFound
from app.models import Resource

M = TypeVar("M", bound=Resource)


class ResourceService(Generic[M]):
    """CRUD for one resource; features override `where`, `build`, `apply` or `authorize`."""

    repository: ClassVar[type[Repository[Any]]]
    noun: ClassVar[str]

    def __init__(
        self, session: AsyncSession, settings: Settings, principal: Principal | None = None
    ) -> None:
        self.repo: Repository[M] = self.repository(session)
        self.settings = settings
        self.principal = principal

    @property
    def model(self) -> type[M]:
        model: type[M] = self.repo.model
        return model

    # -- reads ---------------------------------------------------------------------------------

    def where(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        """By default each filter is a column of the same name, a list meaning OR."""
        return [getattr(self.model, name).in_(values) for name, values in filters.items() if values]

    async def list(self, params: ListParams, filters: object) -> tuple[list[M], str | None]:
        values = asdict(filters) if is_dataclass(filters) and not isinstance(filters, type) else {}
        return await self.repo.page(params, values, self.where(values))

    async def get(self, id: uuid.UUID, *, for_update: bool = False) -> M:
        obj = await self.repo.get(id, for_update=for_update)
        if obj is None:
            raise NotFound(f"No {self.noun} has id {id}.")
        return obj

    # -- writes --------------------------------------------------------------------------------

    def authorize(self, obj: M | None, data: Mapping[str, Any]) -> None:
        """Object-level access; `obj` is None on create. Reference data has none."""

    async def build(self, data: dict[str, Any]) -> M:
        return self.model(**data)

    async def apply(self, obj: M, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(obj, field, value)

    async def create(self, data: BaseModel) -> M:
        values = data.model_dump()
        self.authorize(None, values)
        return await self.repo.add(await self.build(values))

    async def _lock(self, id: uuid.UUID, if_match: str | None) -> M:
        """Load the row FOR UPDATE, so that of two writers holding one ETag only the first wins."""
        obj = await self.get(id, for_update=True)
        check_if_match(if_match, obj.etag)
        return obj

    async def update(self, id: uuid.UUID, data: BaseModel, if_match: str | None) -> M:
        changes = data.model_dump(exclude_unset=True)
        obj = await self._lock(id, if_match)
        self.authorize(obj, changes)
        await self.apply(obj, changes)
        await self.repo.flush()
        return obj

    async def delete(self, id: uuid.UUID, if_match: str | None) -> None:
        obj = await self._lock(id, if_match)
        self.authorize(obj, {})
        await self.repo.delete(obj)
