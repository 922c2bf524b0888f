"""Territory outputs and list filters."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.config import JsonDict

from app.models.territory import TerritoryKind

TERRITORY_CODE = r"^[0-9][0-9AB][0-9]{0,7}$"
TerritoryCode = Annotated[str, Field(pattern=TERRITORY_CODE, examples=["13055"])]
# A territory's `id` ("departement:13") or a bare code ("13"): see REFERENCE below.
REFERENCE_PATTERN = r"^([a-z_]{1,32}:)?[0-9][0-9AB][0-9]{0,7}$"
TerritoryReference = Annotated[str, Field(pattern=REFERENCE_PATTERN, examples=["region:93"])]

REFERENCE = (
    "A territory's `id` (`kind:code`, always unambiguous: `region:93`, `commune:13055`) or a "
    "bare code. Codes repeat across kinds (the région and the département 93; a delegated "
    "commune often keeps the code of the commune it merged into), so a bare code names the "
    "first kind that has it in this order: commune, arrondissement_municipal, epci, "
    "departement, region, commune_deleguee, commune_associee. `93` is the département "
    "Seine-Saint-Denis, `region:93` the région Provence-Alpes-Côte d'Azur."
)

_EXAMPLE: JsonDict = {
    "id": "commune:13055",
    "kind": "commune",
    "code": "13055",
    "name": "Marseille",
    "siren": "211300553",
    "population": 886040,
    "epci_type": None,
    "commune_code": None,
    "epci_code": "200054807",
    "departement_code": "13",
    "region_code": "93",
    "vintage": "2026",
    "current": True,
    "etag": '"6f1d0c2b9a8e7d34"',
}


class TerritoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: str = Field(description="`kind:code`: unambiguous, accepted by GET /v1/territories/{code}.")
    kind: TerritoryKind
    code: str = Field(description="INSEE code; for an EPCI, its SIREN.")
    name: str
    siren: str | None = Field(description="SIREN of the collectivity, where the source has it.")
    population: int | None = Field(
        description=(
            "Population municipale (INSEE populations légales of the vintage). EPCI, "
            "départements, régions: the sum of their current communes'."
        )
    )
    epci_type: str | None = Field(description="EPCI only: CC, CA, CU, METRO or MET69.")
    commune_code: str | None = Field(
        description="Arrondissements, delegated and associated communes: their commune."
    )
    epci_code: str | None = Field(description="The EPCI (SIREN) the territory lies in.")
    departement_code: str | None
    region_code: str | None
    vintage: str = Field(description="The last vintage of the referential that lists it.")
    current: bool = Field(
        description="False once a newer vintage no longer lists it (kept, never deleted)."
    )

    @computed_field(description="Strong ETag of this version (If-None-Match gives 304).")  # type: ignore[prop-decorator]
    @property
    def etag(self) -> str:
        fields = self.model_dump(mode="json", exclude={"etag"})
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return f'"{digest[:16]}"'


@dataclass
class TerritoryFilters:
    kind: Annotated[
        list[TerritoryKind] | None, Query(description="Only these kinds (repeatable).")
    ] = None
    code: Annotated[
        list[TerritoryCode] | None, Query(description="Only these codes (repeatable).")
    ] = None
    parent: Annotated[
        TerritoryReference | None,
        Query(
            description=(
                "Only territories inside this one, at any depth: `parent=200054807&kind=commune` "
                "lists the 92 communes of the Métropole d'Aix-Marseille-Provence, "
                "`parent=region:93&kind=departement` the six départements of "
                "Provence-Alpes-Côte d'Azur. " + REFERENCE
            )
        ),
    ] = None
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description=(
                "Name search, accents, case and punctuation ignored: every word of `q` must "
                "begin a word of the name (`aix en provence` finds Aix-en-Provence)."
            ),
        ),
    ] = None
    current: Annotated[
        bool | None,
        Query(description="true: only the current vintage's; false: only retired ones."),
    ] = None
