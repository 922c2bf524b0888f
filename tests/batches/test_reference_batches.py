"""PUT /v1/actions and PUT /v1/partners: reference data in batches of up to 10,000, matched by
code (or, for actions, by external id), all or nothing, every bad item named by its pointer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import Role
from tests.conftest import KeyMaker, assert_problem, count, pointers
from tests.factories import chantier_id, make_commitment, partner_id

MARSEILLE_SIREN = "211300553"
MARSEILLE_SIRET = "21130055300016"  # Ville de Marseille, Luhn-valid


def _action(code: str, chantier: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "chantier_id": chantier, "title": f"Action {code}"} | fields


async def _stored(connection: AsyncConnection, codes: list[str]) -> dict[str, Any]:
    rows = await connection.execute(
        text(
            "SELECT code, title, version, external_id, communes, chantier_id::text FROM actions "
            "WHERE code = ANY(:codes)"
        ),
        {"codes": codes},
    )
    return {row.code: row for row in rows}


async def test_a_batch_creates_then_replaces_by_code_and_reports_counts(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    c5 = await chantier_id(client, 5)
    items = [_action(f"BULK-{n}", c5, communes=["13055", "13001"][: n % 3]) for n in range(300)]
    first = await client.put("/v1/actions", json={"items": items}, headers=editor)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 300, "updated": 0, "unchanged": 0}
    items[7]["title"] = "Renamed"
    items[8]["communes"] = ["13055"]
    second = await client.put("/v1/actions", json={"items": items}, headers=editor)
    assert second.json() == {"created": 0, "updated": 2, "unchanged": 298}
    stored = await _stored(connection, ["BULK-7", "BULK-8", "BULK-9"])
    assert (stored["BULK-7"].title, stored["BULK-7"].version) == ("Renamed", 2)
    assert list(stored["BULK-8"].communes) == ["13055"]
    assert (list(stored["BULK-9"].communes), stored["BULK-9"].version) == (
        ["13055", "13001"][:0],
        1,
    )
    # What the batch stored is what GET answers, the programme filled from the chantier.
    got = await client.get("/v1/actions", params={"code": "BULK-2"})
    (action,) = got.json()["items"]
    assert action["communes"] == ["13055", "13001"]
    assert action["programme_id"] is not None


async def test_each_write_of_a_batch_is_in_the_change_feed_and_identical_items_are_not(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    c5 = await chantier_id(client, 5)
    items = [_action(f"FEED-{n}", c5) for n in range(3)]
    await client.put("/v1/actions", json={"items": items}, headers=editor)
    before = await count(connection, "changes")
    items[1]["progress"] = 30
    await client.put("/v1/actions", json={"items": items}, headers=editor)
    assert await count(connection, "changes") == before + 1
    (stored,) = (await client.get("/v1/actions", params={"code": "FEED-1"})).json()["items"]
    history = (await client.get(f"/v1/actions/{stored['id']}/history")).json()["items"]
    assert [entry["op"] for entry in history][:2] in (["update", "create"], ["create", "update"])
    newest = max(history, key=lambda entry: entry["version"])
    assert newest["data"] == stored


async def test_a_batch_sent_again_leaves_its_unchanged_rows_unlocked(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    """ON CONFLICT DO UPDATE would lock each row it meets (the locker's id in xmax) only for
    its WHERE to leave it alone: actions and partners sent as stored are left out before the
    upsert, their xmax as it was; the one changed gets its new version. The optional columns
    no item fills (dates, lead partner, external id) travel as NULL arrays and stay NULL."""
    c5 = await chantier_id(client, 5)
    items = [_action(f"LOCK-{n}", c5, communes=["13055"]) for n in range(4)]
    assert (await client.put("/v1/actions", json={"items": items}, headers=editor)).is_success
    rows = text(
        "SELECT code, xmax::text, version, start_date, external_id, lead_partner_id"
        " FROM actions WHERE code LIKE 'LOCK-%' ORDER BY code"
    )
    before = {row[0]: row[1] for row in (await connection.execute(rows)).all()}
    items[1]["start_date"] = "2024-02-01"
    again = await client.put("/v1/actions", json={"items": items}, headers=editor)
    assert again.json() == {"created": 0, "updated": 1, "unchanged": 3}, again.text
    after = (await connection.execute(rows)).all()
    assert [(code, xmax == before[code], version) for code, xmax, version, *_ in after] == [
        (f"LOCK-{n}", n != 1, 2 if n == 1 else 1) for n in range(4)
    ]
    assert [(str(r[3]) if r[3] else None, r[4], r[5]) for r in after] == [
        (None, None, None),
        ("2024-02-01", None, None),
        (None, None, None),
        (None, None, None),
    ]
    people = [{"code": f"LOCKP_{n}", "name": f"P {n}", "kind": "commune"} for n in range(3)]
    assert (await client.put("/v1/partners", json={"items": people}, headers=editor)).is_success
    xmax = text("SELECT code, xmax::text FROM partners WHERE code LIKE 'LOCKP_%' ORDER BY code")
    first = (await connection.execute(xmax)).all()
    same = await client.put("/v1/partners", json={"items": people}, headers=editor)
    assert same.json() == {"created": 0, "updated": 0, "unchanged": 3}, same.text
    assert (await connection.execute(xmax)).all() == first


async def test_matching_by_external_id_may_change_codes_and_needs_an_external_id(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    c5 = await chantier_id(client, 5)
    items = [_action(f"EXT-{n}", c5, external_id=f"DSIL-{n}") for n in range(3)]
    created = await client.put(
        "/v1/actions?match=external_id", json={"items": items}, headers=editor
    )
    assert created.json()["created"] == 3, created.text
    items[0]["code"] = "EXT-RENAMED"
    renamed = await client.put(
        "/v1/actions?match=external_id", json={"items": items}, headers=editor
    )
    assert renamed.json() == {"created": 0, "updated": 1, "unchanged": 2}
    stored = await _stored(connection, ["EXT-RENAMED", "EXT-0"])
    assert list(stored) == ["EXT-RENAMED"]
    assert stored["EXT-RENAMED"].external_id == "DSIL-0"
    before = await count(connection, "actions")
    keyless = await client.put(
        "/v1/actions?match=external_id",
        json={"items": [_action("EXT-9", c5), _action("EXT-10", c5, external_id="DSIL-10")]},
        headers=editor,
    )
    assert pointers(assert_problem(keyless, 422)) == ["/items/0/external_id"]
    assert await count(connection, "actions") == before


async def test_every_bad_item_is_named_and_nothing_is_written(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    c5 = await chantier_id(client, 5)
    held = _action("HELD", c5, external_id="HELD-REF")
    assert (
        await client.put("/v1/actions", json={"items": [held]}, headers=editor)
    ).status_code == 200
    before = (await count(connection, "actions"), await count(connection, "changes"))
    items = [
        _action("OK-1", c5),
        _action("OK-2", str(uuid.uuid4())),  # no such chantier
        _action("OK-3", c5, communes=["13055", "13999"]),  # no such commune
        _action("OK-4", c5, lead_partner_id=str(uuid.uuid4())),  # no such partner
        _action("OK-1", c5),  # the same code twice
        _action("OK-6", c5, external_id="HELD-REF"),  # another action's external id
        _action("OK-7", c5, start_date="2024-01-01", end_date="2023-01-01"),  # dates
        _action("OK-8", c5, progress="12"),  # not an integer
        {"code": "OK-9", "chantier_id": c5},  # no title
        _action("OK-10", c5, external_id="TWICE"),
        _action("OK-11", c5, external_id="TWICE"),  # the same external id twice
    ]
    response = await client.put("/v1/actions", json={"items": items}, headers=editor)
    body = assert_problem(response, 422)
    assert pointers(body) == [
        "/items/1/chantier_id",
        "/items/2/communes/1",
        "/items/3/lead_partner_id",
        "/items/4/code",
        "/items/5/external_id",
        "/items/6",
        "/items/7/progress",
        "/items/8/title",
        "/items/10/external_id",
    ]
    assert (await count(connection, "actions"), await count(connection, "changes")) == before


async def test_moving_actions_keeps_their_commitments_inside_the_new_programme(
    client: httpx.AsyncClient,
    editor: dict[str, str],
    admin: dict[str, str],
    connection: AsyncConnection,
) -> None:
    """An item that moves a stored action to a chantier of another programme is refused when
    that programme's period leaves out some of the action's commitments."""
    programme = await client.post(
        "/v1/programmes",
        json={
            "code": "SHORT-2030",
            "name": "Court",
            "start_year": 2030,
            "end_year": 2031,
            "territory_code": "200054807",
        },
        headers=admin,
    )
    assert programme.status_code == 201, programme.text
    priority = await client.post(
        "/v1/priorities",
        json={"programme_id": programme.json()["id"], "code": "P1", "name": "Une"},
        headers=admin,
    )
    assert priority.status_code == 201, priority.text
    chantier = await client.post(
        "/v1/chantiers",
        json={
            "programme_id": programme.json()["id"],
            "number": 1,
            "code": "AILLEURS",
            "name": "Ailleurs",
            "priority_ids": [priority.json()["id"]],
        },
        headers=admin,
    )
    assert chantier.status_code == 201, chantier.text
    c5 = await chantier_id(client, 5)
    await client.put("/v1/actions", json={"items": [_action("MOVE-1", c5)]}, headers=editor)
    (action,) = (await client.get("/v1/actions", params={"code": "MOVE-1"})).json()["items"]
    await make_commitment(client, editor, action_id=action["id"], year=2024)
    moved = _action("MOVE-1", chantier.json()["id"])
    response = await client.put("/v1/actions", json={"items": [moved]}, headers=editor)
    assert pointers(assert_problem(response, 422)) == ["/items/0/chantier_id"]
    assert (await _stored(connection, ["MOVE-1"]))["MOVE-1"].chantier_id == c5


async def test_a_scoped_key_replaces_only_its_programmes_actions(
    client: httpx.AsyncClient, editor: dict[str, str], make_key: KeyMaker
) -> None:
    c5 = await chantier_id(client, 5)
    await client.put("/v1/actions", json={"items": [_action("SCOPE-1", c5)]}, headers=editor)
    programmes = (await client.get("/v1/programmes")).json()["items"]
    seeded = programmes[0]["code"]
    admin_headers = await make_key(Role.admin)
    created = await client.post(
        "/v1/programmes",
        json={
            "code": "SCOPE-B",
            "name": "B",
            "start_year": 2020,
            "end_year": 2026,
            "territory_code": "200054807",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    scoped_b = await make_key(Role.editor, programmes=["SCOPE-B"])
    response = await client.put(
        "/v1/actions", json={"items": [_action("SCOPE-1", c5, title="Taken")]}, headers=scoped_b
    )
    body = assert_problem(response, 422)
    # The chantier is out of its reach, and so is the stored action.
    assert pointers(body) == ["/items/0/chantier_id", "/items/0/code"]
    scoped_a = await make_key(Role.editor, programmes=[seeded])
    ok = await client.put(
        "/v1/actions", json={"items": [_action("SCOPE-1", c5, title="Mine")]}, headers=scoped_a
    )
    assert ok.json() == {"created": 0, "updated": 1, "unchanged": 0}, ok.text


async def test_a_batch_over_ten_thousand_is_refused(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    c5 = await chantier_id(client, 5)
    items = [_action(f"BIG-{n}", c5) for n in range(10_001)]
    response = await client.put("/v1/actions", json={"items": items}, headers=editor)
    assert "/items" in pointers(assert_problem(response, 422))


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_counts(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    c5 = await chantier_id(client, 5)
    body = {"items": [_action("IDEM-1", c5), _action("IDEM-2", c5)]}
    headers = editor | {"Idempotency-Key": "bulk-1"}
    first = await client.put("/v1/actions", json=body, headers=headers)
    again = await client.put("/v1/actions", json=body, headers=headers)
    assert first.json() == again.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert again.headers["Idempotent-Replayed"] == "true"
    plain = await client.put("/v1/actions", json=body, headers=editor)
    assert plain.json() == {"created": 0, "updated": 0, "unchanged": 2}


# -- partners --------------------------------------------------------------------------------


async def test_partners_batch_by_code(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    items = [{"code": f"BULK_{n}", "name": f"Partenaire {n}", "kind": "commune"} for n in range(50)]
    items[0] |= {"siren": MARSEILLE_SIREN, "siret": MARSEILLE_SIRET}
    first = await client.put("/v1/partners", json={"items": items}, headers=editor)
    assert first.json() == {"created": 50, "updated": 0, "unchanged": 0}, first.text
    items[1]["name"] = "Renommé"
    second = await client.put("/v1/partners", json={"items": items}, headers=editor)
    assert second.json() == {"created": 0, "updated": 1, "unchanged": 49}
    renamed = await client.get(f"/v1/partners/{await partner_id(client, 'BULK_1')}")
    assert renamed.json()["name"] == "Renommé"
    assert renamed.headers["ETag"].endswith('-2"')


async def test_partners_batch_bad_items(
    client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    held = {"code": "HOLDER", "name": "Ville", "kind": "commune", "siren": MARSEILLE_SIREN}
    assert (await client.put("/v1/partners", json={"items": [held]}, headers=editor)).is_success
    before = await count(connection, "partners")
    items = [
        {"code": "GOOD_1", "name": "Bon", "kind": "commune"},
        {"code": "BAD_KIND", "name": "x", "kind": "bank"},
        {
            "code": "BAD_SIRET",
            "name": "x",
            "kind": "state",
            "siren": "110000000",
            "siret": MARSEILLE_SIRET,
        },
        {"code": "GOOD_1", "name": "Deux fois", "kind": "commune"},
        {"code": "TAKEN", "name": "x", "kind": "public_bank", "siren": MARSEILLE_SIREN},
    ]
    response = await client.put("/v1/partners", json={"items": items}, headers=editor)
    assert pointers(assert_problem(response, 422)) == [
        "/items/1/kind",
        "/items/2/siret",
        "/items/3/code",
        "/items/4/siren",
    ]
    assert await count(connection, "partners") == before
