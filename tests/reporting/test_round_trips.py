"""A dashboard request is one statement (one round trip to the database), plus one that
resolves every entity named by its code or id in the filters, however many there are; the
summaries and progress one more, for their money over time (the cash-flow roll-up)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """The statements the requests run, over the test's connection, savepoints left out."""
    ran: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(SAVEPOINTS):
            ran.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    yield ran
    event.remove(connection.sync_connection, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/aggregates/commitments", 1),
        ("/v1/aggregates/commitments?drilldown=chantier", 1),
        ("/v1/aggregates/commitments?drilldown=priority,year&page=3&page_size=2", 1),
        ("/v1/aggregates/commitments?drilldown=commune,status&year=2024", 1),
        ("/v1/aggregates/commitments?drilldown=year&priority=TRANSITION&partner=BDT", 2),
        (
            "/v1/aggregates/commitments?drilldown=partner&programme=AMP-RR-2020-2026"
            "&chantier=TRANSPORTS&partner=BDT&partner=AMP",
            2,
        ),
        # The figures, the cash flow, and the late actions per chantier (milestones).
        ("/v1/summary", 3),
        ("/v1/programmes/{programme}/summary", 3),
        ("/v1/chantiers/{chantier}/progress", 2),
        ("/v1/priorities/{priority}/progress", 2),
    ],
)
async def test_a_dashboard_request_is_one_statement_and_one_to_resolve_codes(
    client: httpx.AsyncClient, statements: list[str], path: str, expected: int
) -> None:
    ids = {
        name: (await client.get(f"/v1/{resource}?code={code}")).json()["items"][0]["id"]
        for name, resource, code in [
            ("programme", "programmes", "AMP-RR-2020-2026"),
            ("chantier", "chantiers", "TRANSPORTS"),
            ("priority", "priorities", "TRANSITION"),
        ]
    }
    statements.clear()
    response = await client.get(path.format(**ids))
    assert response.status_code == 200, response.text
    assert len(statements) == expected, statements
