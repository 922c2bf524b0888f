"""Reference data and demo data, loaded through the same services as the API's writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.chantiers.schemas import ChantierCreate, ChantierUpdate
from app.chantiers.service import ChantierService
from app.common.service import ResourceService
from app.config import Settings
from app.partners.schemas import PartnerCreate, PartnerUpdate
from app.partners.service import PartnerService
from app.priorities.schemas import PriorityCreate, PriorityUpdate
from app.priorities.service import PriorityService
from app.programmes.schemas import ProgrammeCreate, ProgrammeUpdate
from app.programmes.service import ProgrammeService
from app.territories.service import load_territories


def default_reference_file() -> Path:
    return Path(str(resources.files("app.programme") / "relance-et-renouveau.json"))


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.created and not self.updated:
            return "reference data already up to date: nothing changed"
        return f"created {len(self.created)}, updated {len(self.updated)}: " + ", ".join(
            self.created + self.updated
        )


class SeedConflict(Exception):
    """The reference file and the database disagree in a way the seed must not settle: another
    row already holds a unique value (a number, a SIREN) the file gives to this one."""


async def _check_unique(
    service: ResourceService[Any, Any],
    key: dict[str, Any],
    existing: Any,
    wanted: dict[str, Any],
    unique: tuple[str, ...],
    scope: dict[str, Any],
) -> None:
    """Refuse before writing: the constraint would otherwise stop the seed with a traceback."""
    ((key_name, key_value),) = key.items()
    for name in unique:
        value = wanted.get(name)
        if value is None or (existing is not None and getattr(existing, name) == value):
            continue
        holder = await service.repo.find_by(**scope, **{name: value})
        if holder is not None and (existing is None or holder.id != existing.id):
            raise SeedConflict(
                f"{service.noun} {key_value} has {name} {value} in the reference file, but "
                f"{service.noun} {getattr(holder, key_name)} holds {name} {value} in the "
                f"database; change one of them (the file or the database) and run the seed again"
            )


async def _upsert(
    service: ResourceService[Any, Any],
    key: dict[str, Any],
    wanted: dict[str, Any],
    create: type[Any],
    update: type[Any],
    report: SeedReport,
    unique: tuple[str, ...] = (),
    scope: dict[str, Any] | None = None,
) -> Any:
    """Create or update the row `key` names; `scope` narrows the search and is given on
    creation (a priority's code is its programme's own: scope {"programme_id": ...})."""
    scope = scope or {}
    existing = await service.repo.find_by(**scope, **key)
    await _check_unique(service, key, existing, wanted, unique, scope)
    label = f"{service.noun} {next(iter(key.values()))}"
    if existing is None:
        report.created.append(label)
        return await service.create(create(**scope, **key, **wanted))
    changes = {k: v for k, v in wanted.items() if _current(existing, k) != _comparable(v)}
    if changes:
        report.updated.append(label)
        await service.update(existing.id, update(**changes), None)
    return existing


def _current(obj: Any, name: str) -> Any:
    if name == "targets":
        return sorted((t.year, t.amount) for t in obj.targets)
    if name == "priority_ids":
        return sorted(obj.priority_ids)
    return getattr(obj, name)


def _comparable(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return sorted((v["year"], Decimal(v["amount"])) for v in value)
    if isinstance(value, list):
        return sorted(value)
    return value


async def seed(session: AsyncSession, settings: Settings, path: Path | None = None) -> SeedReport:
    """Load the programme's reference data; running it twice changes nothing. Raises
    SeedConflict, before writing the row concerned, when the database gives a unique value of
    the file (a chantier's number, a partner's SIREN) to another row: the caller's transaction
    is then rolled back whole."""
    data = json.loads((path or default_reference_file()).read_text(encoding="utf-8"))
    report = SeedReport()
    # The first programme: its code and period from the settings, the rest from the file.
    period = settings.programme
    described = data["programme"]
    programme = await _upsert(
        ProgrammeService(session, settings),
        {"code": period.first_code},
        {
            "name": described["name"],
            "description": described.get("description", ""),
            "territory_code": described["territory_code"],
            "start_year": period.start_year,
            "end_year": period.end_year,
        },
        ProgrammeCreate,
        ProgrammeUpdate,
        report,
    )
    scope = {"programme_id": programme.id}
    priorities = PriorityService(session, settings)
    ids = {}
    for p in data["priorities"]:
        wanted = {k: p.get(k, "") for k in ("name", "description")} | {"position": p["position"]}
        priority = await _upsert(
            priorities,
            {"code": p["code"]},
            wanted,
            PriorityCreate,
            PriorityUpdate,
            report,
            scope=scope,
        )
        ids[p["code"]] = priority.id
    chantiers = ChantierService(session, settings)
    for c in data["chantiers"]:
        every_year = c.get("targets", {}).get("every_year")
        targets = [{"year": y, "amount": every_year} for y in period.years]
        wanted = {
            "number": c["number"],
            "name": c["name"],
            "description": c.get("description", ""),
            "priority_ids": [ids[code] for code in c["priorities"]],
            "targets": targets if every_year else [],
        }
        await _upsert(
            chantiers,
            {"code": c["code"]},
            wanted,
            ChantierCreate,
            ChantierUpdate,
            report,
            unique=("number",),
            scope=scope,
        )
    partners = PartnerService(session, settings)
    for p in data["partners"]:
        wanted = {
            "name": p["name"],
            "kind": p["kind"],
            "siren": p.get("siren"),
            "siret": p.get("siret"),
        }
        await _upsert(
            partners,
            {"code": p["code"]},
            wanted,
            PartnerCreate,
            PartnerUpdate,
            report,
            unique=("siren", "siret"),
        )
    report.updated.extend((await load_territories(session)).changed)
    return report
