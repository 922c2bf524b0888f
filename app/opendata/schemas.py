"""Open-data export filters: which grant commitments an SCDL export covers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import Field

from app.common.fields import IsoDate


@dataclass
class GrantFilters:
    programme_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these programmes' grants (repeatable).")
    ] = None
    partner_id: Annotated[
        list[uuid.UUID] | None,
        Query(description="Only the grants of these attributants (partners)."),
    ] = None
    year: Annotated[
        list[Annotated[int, Field(ge=1900, le=2200)]] | None,
        Query(description="Only these budget years."),
    ] = None
    signed_from: Annotated[
        IsoDate | None, Query(description="Only grants signed on or after this date.")
    ] = None
    signed_to: Annotated[
        IsoDate | None, Query(description="Only grants signed on or before this date.")
    ] = None
