"""Beneficiaries of commitments and the partners' SIRET: stored, validated with pointers, held
by the database, and carried by the partners' sync."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.common.fields import siret_key_valid
from tests.conftest import assert_problem, count, pointers
from tests.factories import make_action, make_commitment, partner_id

MARSEILLE_SIRET = "21130055300016"  # Ville de Marseille (SIREN 211300553), Luhn-valid
BENEFICIARY = {
    "beneficiary_name": "Ville de Marseille",
    "beneficiary_siret": MARSEILLE_SIRET,
    "beneficiary_rna": None,
    "decision_ref": "DEL-2024-0315",
    "eu_notified": True,
}


def _la_poste(last: int) -> str:
    return f"356000000000{last:02d}"


@pytest.mark.parametrize(
    ("siret", "valid"),
    [
        (MARSEILLE_SIRET, True),
        ("21130055300017", False),  # one digit off: the Luhn key no longer matches
        ("20005480700017", True),
        (_la_poste(47), True),  # digit sum 25: a multiple of 5, though its Luhn sum is not
        (_la_poste(48), True),  # the head office: Luhn, as any other
        (_la_poste(49), False),  # digit sum 27, and Luhn fails too
    ],
)
def test_siret_key_is_luhn_with_la_postes_exception(siret: str, valid: bool) -> None:
    assert siret_key_valid(siret) is valid


def test_the_la_poste_case_really_fails_plain_luhn() -> None:
    # Else the exception would be tested by a number Luhn accepts anyway.
    total = 0
    for position, digit in enumerate(reversed(_la_poste(47))):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    assert total % 10 != 0


async def test_commitment_stores_and_returns_its_beneficiary(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin, instrument="grant", **BENEFICIARY)
    assert {k: created[k] for k in BENEFICIARY} == BENEFICIARY
    url = app.url_path_for("get_commitment", commitment_id=created["id"])
    assert (await client.get(url)).json() == created
    patched = await client.patch(
        url,
        json={"beneficiary_siret": None, "beneficiary_rna": "W133012345"},
        headers=admin | {"If-Match": created["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["beneficiary_siret"], patched.json()["beneficiary_rna"]) == (
        None,
        "W133012345",
    )
    assert patched.json()["beneficiary_name"] == "Ville de Marseille"


async def test_defaults_are_no_beneficiary_and_not_notified(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await make_commitment(client, admin)
    assert {k: created[k] for k in BENEFICIARY} == {
        "beneficiary_name": None,
        "beneficiary_siret": None,
        "beneficiary_rna": None,
        "decision_ref": None,
        "eu_notified": False,
    }


# Bad values of these fields: tests/commitments/test_router.py, BAD_INPUTS.


@pytest.mark.parametrize(
    ("column", "value"),
    [("beneficiary_siret", "2113005530001X"), ("beneficiary_rna", "X123"), ("decision_ref", "")],
)
async def test_the_database_refuses_malformed_identifiers(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    connection: AsyncConnection,
    column: str,
    value: str,
) -> None:
    created = await make_commitment(client, admin)
    with pytest.raises(IntegrityError, match=f"commitments_{column}_"):
        async with connection.begin_nested():
            await connection.execute(
                text(f"UPDATE commitments SET {column} = :v WHERE id = CAST(:id AS uuid)"),
                {"v": value, "id": created["id"]},
            )


async def test_partner_siret_stored_and_must_extend_its_siren(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], connection: AsyncConnection
) -> None:
    url = app.url_path_for("create_partner")
    body = {"code": "VDM", "name": "Ville de Marseille", "kind": "commune", "siren": "211300553"}
    created = await client.post(url, json=body | {"siret": MARSEILLE_SIRET}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["siret"] == MARSEILLE_SIRET

    before = await count(connection, "partners")
    other = {"code": "AIX", "name": "Aix", "kind": "commune", "siren": "211300017"}
    wrong = await client.post(url, json=other | {"siret": MARSEILLE_SIRET}, headers=admin)
    problem = assert_problem(wrong, 422, "VALIDATION_ERROR")
    assert pointers(problem) == ["/siret"]
    bad_key = await client.post(url, json=other | {"siret": "21130001700018"}, headers=admin)
    assert pointers(assert_problem(bad_key, 422)) == ["/siret"]
    assert await count(connection, "partners") == before


async def test_seeded_metropole_has_its_siret(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get(app.url_path_for("list_partners"), params={"code": "AMP"})
    [amp] = response.json()["items"]
    assert amp["siret"].startswith(amp["siren"])
    assert siret_key_valid(amp["siret"])


async def test_partner_sync_carries_the_beneficiary_and_detects_its_change(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    action = await make_action(client, admin)
    bdt = await partner_id(client, "BDT")
    url = app.url_path_for("put_commitment", partner_id=bdt, external_ref="BDT-BEN-1")
    item = {
        "action_id": action["id"],
        "year": 2024,
        "amount": "1000.00",
        "instrument": "grant",
    } | BENEFICIARY
    first = await client.put(url, json=item, headers=admin)
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in BENEFICIARY} == BENEFICIARY
    same = await client.put(url, json=item, headers=admin)
    assert same.json()["etag"] == first.json()["etag"]
    changed = await client.put(url, json=item | {"eu_notified": False}, headers=admin)
    assert changed.json()["eu_notified"] is False
    assert changed.json()["etag"] != first.json()["etag"]

    batch_url = app.url_path_for("put_commitments", partner_id=bdt)
    bad = {"items": [item | {"external_ref": "B-2", "beneficiary_siret": "21130055300017"}]}
    response = await client.put(batch_url, json=bad, headers=admin)
    assert pointers(assert_problem(response, 422)) == ["/items/0/beneficiary_siret"]
