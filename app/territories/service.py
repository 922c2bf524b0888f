"""Territory rules: loading the shipped referential, name normalisation, lookups by code."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.pagination import ListParams
from app.errors import ErrorItem, InvalidParameter, NotFound
from app.models import Territory, TerritoryKind
from app.territories.repository import BARE_CODE_ORDER, TerritoryRepository
from app.territories.schemas import TerritoryFilters

logger = logging.getLogger("relance.territories")

# The columns of territories.csv.gz (scripts/extract_territories.py writes them).
FILE_COLUMNS = (
    "kind",
    "code",
    "name",
    "siren",
    "population",
    "epci_type",
    "commune_code",
    "epci_code",
    "departement_code",
    "region_code",
)
# The column listing the territories inside each kind that contains others.
CHILDREN_OF = {
    TerritoryKind.commune: Territory.commune_code,
    TerritoryKind.epci: Territory.epci_code,
    TerritoryKind.departement: Territory.departement_code,
    TerritoryKind.region: Territory.region_code,
}

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})
_WORD = re.compile(r"[a-z0-9]+")


def search_name(name: str) -> str:
    """Lower case, no accents, words separated by one space: "L'Haÿ-les-Roses" -> "l hay les
    roses". Stored for every territory and applied to `q`, so both match the same way."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_WORD.findall(bare))


def default_data_dir() -> Path:
    return Path(str(resources.files("app.territories") / "data"))


class TerritoryDataError(RuntimeError):
    """The shipped file does not match its manifest: refuse to load it."""


@dataclass
class TerritoryLoad:
    package: str
    version: str
    vintage: str
    skipped: bool
    inserted: int = 0
    updated: int = 0
    retired: int = 0
    changed: list[str] = field(default_factory=list)  # for the seed report: empty when skipped


def _read_rows(data: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8")))
    if tuple(reader.fieldnames or ()) != FILE_COLUMNS:
        raise TerritoryDataError(f"unexpected columns {reader.fieldnames}; want {FILE_COLUMNS}")
    return list(reader)


def _as_columns(rows: list[dict[str, str]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in (*FILE_COLUMNS, "search_name")}
    for row in rows:
        for name in FILE_COLUMNS:
            value = row[name] or None
            columns[name].append(int(value) if name == "population" and value else value)
        columns["search_name"].append(search_name(row["name"]))
    return columns


async def load_territories(
    session: AsyncSession, data_dir: Path | None = None, *, force: bool = False
) -> TerritoryLoad:
    """Load the shipped referential (app/territories/data/) in the session's transaction.

    Idempotent: a file already loaded last is skipped without being read (`force` loads it
    anyway, which then changes nothing). A newer vintage updates what changed, adds what is new,
    and flags as retired (`current` false, never deleted) what it no longer lists.
    """
    directory = data_dir or default_data_dir()
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    load = TerritoryLoad(manifest["package"], manifest["version"], manifest["vintage"], True)
    repo = TerritoryRepository(session)
    if not await repo.tables_exist():
        # A database migrated only up to a revision before the territories' (tests of older
        # migrations seed such databases): there is nothing to load into yet.
        logger.warning("territories not loaded: the database predates their migration")
        return load
    await repo.lock_for_load()
    if not force and await repo.last_source_sha256() == manifest["file_sha256"]:
        return load
    data = (directory / manifest["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["file_sha256"]:
        raise TerritoryDataError(f"{manifest['file']}: SHA-256 differs from manifest.json")
    rows = _read_rows(data)
    columns = _as_columns(rows)
    load.skipped = False
    load.inserted, load.updated = await repo.upsert(columns, manifest["vintage"])
    load.retired = await repo.retire_missing(columns["kind"], columns["code"])
    await repo.add_source(
        sha256=manifest["file_sha256"],
        package=load.package,
        version=load.version,
        vintage=load.vintage,
        row_count=len(rows),
    )
    if load.inserted or load.updated or load.retired:
        load.changed.append(
            f"territories {load.vintage} ({load.package} {load.version}): {load.inserted} added, "
            f"{load.updated} updated, {load.retired} retired"
        )
    logger.info("territories loaded", extra={"territories": asdict(load)})
    return load


def _bad(parameter: str, detail: str) -> InvalidParameter:
    return InvalidParameter(
        f"{parameter} {detail}.", errors=[ErrorItem(parameter=parameter, detail=detail)]
    )


class TerritoryService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = TerritoryRepository(session)

    async def resolve(
        self, reference: str, kinds: tuple[TerritoryKind, ...] = BARE_CODE_ORDER
    ) -> Territory | None:
        """The territory a reference (`kind:code`, or a bare code: the first of `kinds` that has
        it) names; None when none does."""
        kind, _, code = reference.rpartition(":")
        if not kind:
            return await self.repo.first_with_code(code, kinds)
        if kind not in TerritoryKind.__members__:
            return None
        return await self.repo.get(kind, code)

    async def get(self, reference: str) -> Territory:
        territory = await self.resolve(reference)
        if territory is None:
            raise NotFound(f"No territory has code {reference}.")
        return territory

    async def where(self, filters: TerritoryFilters) -> list[ColumnElement[bool]] | None:
        """The list's conditions; None when nothing can match (an unknown parent)."""
        conditions: list[ColumnElement[bool]] = []
        if filters.kind:
            conditions.append(Territory.kind.in_([k.value for k in filters.kind]))
        if filters.code:
            conditions.append(Territory.code.in_(filters.code))
        if filters.current is not None:
            conditions.append(Territory.current.is_(filters.current))
        if filters.q is not None:
            words = search_name(filters.q).split()
            if not words:
                raise _bad("q", "holds no letter or digit")
            for word in words:
                # Each word of q begins a word of the name (words are separated by one space).
                conditions.append((" " + Territory.search_name).contains(" " + word))
        if filters.parent is not None:
            kind = filters.parent.rpartition(":")[0]
            if kind and kind not in TerritoryKind.__members__:
                raise _bad(
                    "parent", f"names no kind {kind!r}; use one of {', '.join(TerritoryKind)}"
                )
            parent = await self.resolve(filters.parent, tuple(CHILDREN_OF))
            column = CHILDREN_OF.get(TerritoryKind(parent.kind)) if parent else None
            if parent is None or column is None:
                return None
            conditions.append(column == parent.code)
        return conditions

    async def list(
        self, params: ListParams, filters: TerritoryFilters
    ) -> tuple[list[Territory], str | None]:
        conditions = await self.where(filters)
        if conditions is None:
            return [], None
        values: Mapping[str, Any] = asdict(filters)
        return await self.repo.page(params, values, conditions)
