"""Partner inputs and outputs."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Body, Query
from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.config import JsonDict

from app.common.fields import Siret, StrictIdentifier, Text
from app.common.schemas import OMITTED, Input, ResourceRead, read_example
from app.models.enums import PartnerKind
from app.sync.schemas import MAX_BATCH, ReceivedBatch

PartnerCode = Annotated[
    str, Field(pattern=r"^[A-Z0-9_]{2,32}$", examples=["BDT"]), StrictIdentifier
]
Siren = Annotated[str, Field(pattern=r"^[0-9]{9}$", examples=["180020026"])]

_EXAMPLE: JsonDict = {
    "code": "BDT",
    "name": "Banque des Territoires",
    "kind": "public_bank",
    "siren": "180020026",
    "siret": "18002002600019",
}


class PartnerCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    code: PartnerCode
    name: Text
    kind: PartnerKind
    siren: Siren | None = None
    siret: Siret | None = Field(
        default=None, description="The establishment that signs its grants; begins with siren."
    )


class PartnerUpdate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Banque des Territoires"}]})

    code: PartnerCode = Field(default=OMITTED)
    name: Text = Field(default=OMITTED)
    kind: PartnerKind = Field(default=OMITTED)
    siren: Siren | None = None
    siret: Siret | None = None


class PartnerRead(ResourceRead):
    model_config = read_example(_EXAMPLE)

    code: str
    name: str
    kind: PartnerKind
    siren: str | None
    siret: str | None


@dataclass
class PartnerFilters:
    code: Annotated[
        list[PartnerCode] | None, Query(description="Only these codes (repeatable).")
    ] = None
    kind: Annotated[
        list[PartnerKind] | None, Query(description="Only these kinds (repeatable).")
    ] = None


class PartnerBatchItem(PartnerCreate):
    """The whole partner as the sender holds it, matched to a stored one by `code`."""


class PartnerBatch(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})

    items: list[PartnerBatchItem] = Field(max_length=MAX_BATCH, description="Up to 10,000 items.")


class ReceivedPartnerBatch(ReceivedBatch[PartnerBatchItem]):
    batch_model = PartnerBatch
    item_model = PartnerBatchItem


PartnerBatchBody = Annotated[
    ReceivedPartnerBatch,
    Body(),
    PlainValidator(ReceivedPartnerBatch.validate),
    WithJsonSchema({"$ref": "#/components/schemas/PartnerBatch"}),
]
