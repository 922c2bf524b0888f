"""Ownership: actions and commitments follow their chantier's programme, every list filters by
programme, and a chantier cannot serve another programme's priority (API and database)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import assert_problem, pointers
from tests.factories import chantier_id, make_commitment
from tests.programmes_api.test_router import BODY


async def _second_programme_chantier(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A second programme, a priority of it and a chantier serving that priority."""
    programme = (await client.post("/v1/programmes", json=BODY, headers=headers)).json()
    priority = await client.post(
        "/v1/priorities",
        json={"code": "CLIMAT", "name": "Climat", "programme_id": programme["id"]},
        headers=headers,
    )
    assert priority.status_code == 201, priority.text
    chantier = await client.post(
        "/v1/chantiers",
        json={
            "programme_id": programme["id"],
            "number": 42,
            "code": "ADAPTATION",
            "name": "Adaptation",
            "priority_ids": [priority.json()["id"]],
        },
        headers=headers,
    )
    assert chantier.status_code == 201, chantier.text
    return programme, priority.json(), chantier.json()


async def test_actions_and_commitments_follow_their_chantier_and_lists_filter_by_programme(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    first = (await client.get("/v1/programmes")).json()["items"][0]
    commitment = await make_commitment(client, editor)
    assert commitment["programme_id"] == first["id"]
    action = (await client.get(f"/v1/actions/{commitment['action_id']}")).json()
    assert action["programme_id"] == first["id"]

    second, _, chantier = await _second_programme_chantier(client, editor)
    moved = await client.patch(
        f"/v1/actions/{action['id']}", json={"chantier_id": chantier["id"]}, headers=editor
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["programme_id"] == second["id"]
    followed = (await client.get(f"/v1/commitments/{commitment['id']}")).json()
    assert followed["programme_id"] == second["id"]

    for path, item in (("/v1/actions", action), ("/v1/commitments", commitment)):
        mine = (await client.get(path, params={"programme_id": second["id"]})).json()["items"]
        assert [i["id"] for i in mine] == [item["id"]]
        rest = await client.get(path, params={"programme_id": first["id"], "limit": 500})
        assert item["id"] not in [i["id"] for i in rest.json()["items"]]
    chantiers = await client.get("/v1/chantiers", params={"programme_id": second["id"]})
    assert [c["id"] for c in chantiers.json()["items"]] == [chantier["id"]]


async def test_a_chantier_cannot_serve_another_programmes_priority(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    _, priority, _ = await _second_programme_chantier(client, editor)
    cid = await chantier_id(client, 5)
    before = (await client.get(f"/v1/chantiers/{cid}")).json()
    response = await client.patch(
        f"/v1/chantiers/{cid}",
        json={"priority_ids": [*before["priority_ids"], priority["id"]]},
        headers=editor,
    )
    body = assert_problem(response, 422)
    assert pointers(body) == [f"/priority_ids/{len(before['priority_ids'])}"]
    assert (await client.get(f"/v1/chantiers/{cid}")).json() == before

    with pytest.raises(IntegrityError, match="chantier_priorities_priority_id_programme_id"):
        async with connection.begin_nested():
            await connection.execute(
                text("INSERT INTO chantier_priorities (chantier_id, priority_id) VALUES (:c, :p)"),
                {"c": cid, "p": priority["id"]},
            )
