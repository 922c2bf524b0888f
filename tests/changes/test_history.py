"""History: every version, who wrote it and what changed; it survives the deletion."""

from __future__ import annotations

import httpx

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem
from tests.factories import make_action, partner_id


async def test_history_lists_versions_with_actor_and_changed_fields_after_delete(
    client: httpx.AsyncClient, admin: dict[str, str], make_key: KeyMaker
) -> None:
    bdt_key = await make_key(Role.partner, "BDT")
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    url = f"/v1/partners/{bdt}/commitments/H-1"
    body = {"action_id": action["id"], "year": 2024, "amount": "100.00", "instrument": "loan"}
    created = (await client.put(url, json=body, headers=bdt_key)).json()
    await client.put(url, json=body | {"amount": "150.00", "label": "b"}, headers=admin)
    deleted = await client.delete(f"/v1/commitments/{created['id']}", headers=bdt_key)
    assert deleted.status_code == 204

    response = await client.get(f"/v1/commitments/{created['id']}/history")
    assert response.status_code == 200, response.text
    versions = response.json()["items"]
    assert [(v["op"], v["version"]) for v in versions] == [
        ("create", 1),
        ("update", 2),
        ("delete", 2),
    ]
    assert versions[0]["actor"] == {"name": "test partner", "role": "partner"}
    assert versions[0]["changed"]["amount"] == {"before": None, "after": "100.00"}
    assert versions[1]["actor"] == {"name": "test admin", "role": "admin"}
    assert versions[1]["changed"] == {
        "amount": {"before": "100.00", "after": "150.00"},
        "label": {"before": "", "after": "b"},
    }
    assert versions[2]["actor"]["role"] == "partner"


async def test_chantier_history_shows_target_changes(
    live_client: httpx.AsyncClient, live_admin: dict[str, str]
) -> None:
    # Live: a chantier is captured at commit, when its targets are written too.
    chantier = (await live_client.get("/v1/chantiers", params={"number": 5})).json()["items"][0]
    before = chantier["targets"]
    targets = [{"year": 2024, "amount": "1.00"}]
    response = await live_client.patch(
        f"/v1/chantiers/{chantier['id']}", json={"targets": targets}, headers=live_admin
    )
    assert response.status_code == 200, response.text
    history = (await live_client.get(f"/v1/chantiers/{chantier['id']}/history")).json()
    last = history["items"][-1]
    assert last["op"] == "update"
    assert last["actor"] == {"name": "live admin", "role": "admin"}
    assert last["changed"] == {"targets": {"before": before, "after": targets}}


async def test_history_of_unknown_resource_is_404(client: httpx.AsyncClient) -> None:
    missing = "4b0e6f62-51c5-4bb8-9d71-0b1c1f8c8a11"
    assert_problem(await client.get(f"/v1/commitments/{missing}/history"), 404)
    assert_problem(await client.get(f"/v1/keys/{missing}/history"), 404)
