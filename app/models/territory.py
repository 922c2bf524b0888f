"""The territorial referential: communes, EPCI, départements, régions, and each load of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    func,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import sql_in


class TerritoryKind(StrEnum):
    commune = "commune"
    arrondissement_municipal = "arrondissement_municipal"  # Paris, Lyon, Marseille
    commune_deleguee = "commune_deleguee"
    commune_associee = "commune_associee"
    epci = "epci"
    departement = "departement"
    region = "region"


COMMUNE_KINDS = (
    TerritoryKind.commune.value,
    TerritoryKind.arrondissement_municipal.value,
    TerritoryKind.commune_deleguee.value,
    TerritoryKind.commune_associee.value,
)
"""The kinds an action's commune code may name (a code may name several: the commune wins)."""
COMMUNE_LIKE = f"({', '.join(repr(kind) for kind in COMMUNE_KINDS)})"


class Territory(Base):
    """One territory of one kind. Codes repeat across kinds (région 93 and département 93; a
    delegated commune often keeps its new commune's code), so the key is (kind, code).

    Reference data, written only by `load_territories`: a territory missing from a newer
    vintage stays, with `current` false, so that what refers to it still resolves.
    """

    __tablename__ = "territories"
    __table_args__ = (
        CheckConstraint(sql_in("kind", TerritoryKind), name="kind_known"),
        CheckConstraint(
            f"(kind IN {COMMUNE_LIKE} AND code ~ '^[0-9][0-9AB][0-9]{{3}}$')"
            " OR (kind = 'epci' AND code ~ '^[0-9]{9}$')"
            " OR (kind = 'departement' AND code ~ '^[0-9][0-9AB][0-9]?$')"
            " OR (kind = 'region' AND code ~ '^[0-9]{2,3}$')",
            name="code_format",
        ),
        CheckConstraint("name <> '' AND search_name <> ''", name="name_not_empty"),
        CheckConstraint("siren ~ '^[0-9]{9}$'", name="siren_format"),
        CheckConstraint("population >= 0", name="population_non_negative"),
        CheckConstraint("(kind = 'epci') = (epci_type IS NOT NULL)", name="epci_type_epci_only"),
        CheckConstraint(
            "(kind IN ('arrondissement_municipal', 'commune_deleguee', 'commune_associee'))"
            " = (commune_code IS NOT NULL)",
            name="commune_code_when_inside_commune",
        ),
        CheckConstraint("vintage ~ '^[0-9]{4}$'", name="vintage_format"),
        Index(None, "code"),
        Index(None, "commune_code"),
        Index(None, "epci_code"),
        Index(None, "departement_code"),
        Index(None, "region_code"),
    )

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    # `name` lower-cased, accents and punctuation removed (app/territories/service.py: the same
    # function normalises `q`); computed in Python, so no extension (unaccent) is needed.
    search_name: Mapped[str] = mapped_column(Text)
    siren: Mapped[str | None] = mapped_column(String(9))
    population: Mapped[int | None] = mapped_column(Integer)
    epci_type: Mapped[str | None] = mapped_column(Text)  # CC, CA, CU, METRO, MET69
    commune_code: Mapped[str | None] = mapped_column(Text)
    epci_code: Mapped[str | None] = mapped_column(Text)
    departement_code: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(Text)
    vintage: Mapped[str] = mapped_column(Text)  # the last vintage that listed it
    current: Mapped[bool] = mapped_column(Boolean, server_default=true())

    @hybrid_property
    def id(self) -> str:
        """The API's identifier, unambiguous across kinds: "region:93", "commune:13055"."""
        return f"{self.kind}:{self.code}"

    @id.inplace.expression
    @classmethod
    def _id_expression(cls) -> ColumnElement[str]:
        return cls.kind + ":" + cls.code

    sortable = frozenset({"code", "name", "kind"})


class TerritorySource(Base):
    """One load of a shipped referential file: a load of the same file again is skipped."""

    __tablename__ = "territory_sources"
    __table_args__ = (CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(Text)
    package: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    vintage: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
