"""Action rules: dates ordered and progress in range (also database checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement

from app.actions.repository import ActionRepository
from app.common.service import ResourceService
from app.models import Action


class ActionService(ResourceService[Action]):
    repository = ActionRepository
    noun = "action"

    def where(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        simple = {k: v for k, v in filters.items() if k not in ("commune", "synthetic")}
        where = super().where(simple)
        if filters.get("commune"):
            where.append(Action.communes.overlap(filters["commune"]))
        if filters.get("synthetic") is not None:
            where.append(Action.synthetic.is_(filters["synthetic"]))
        return where
