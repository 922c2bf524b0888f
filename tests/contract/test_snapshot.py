"""The committed snapshot (contract/openapi.json) is exactly the document the API serves."""

from __future__ import annotations

import httpx
import pytest

from contract.snapshot import SNAPSHOT, UPDATE_HINT, diff, render


async def test_served_openapi_matches_the_committed_snapshot(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    served = render(response.json())
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if served != committed:
        pytest.fail(
            f"The served /openapi.json differs from contract/openapi.json:\n\n"
            f"{diff(committed, served)}\n{UPDATE_HINT}.",
            pytrace=False,
        )
