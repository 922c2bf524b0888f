"""/v1/territories after `seed`: the shipped referential, its search, codes and pagination."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import assert_problem, pointers

AMP = "200054807"  # Métropole d'Aix-Marseille-Provence


async def _all(client: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page_params = {**params, "limit": 50} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=page_params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_metropole_aix_marseille_provence_has_92_communes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = app.url_path_for("list_territories")
    communes = await _all(client, url, parent=AMP, kind="commune")
    assert len(communes) == 92
    assert len({c["code"] for c in communes}) == 92
    assert all(c["epci_code"] == AMP for c in communes)
    # 90 in the Bouches-du-Rhône, Pertuis in the Vaucluse, Saint-Zacharie in the Var.
    outside = {c["name"]: c["departement_code"] for c in communes if c["departement_code"] != "13"}
    assert outside == {"Pertuis": "84", "Saint-Zacharie": "83"}
    assert {"13055", "13001", "13028", "13117"} <= {c["code"] for c in communes}
    epci = (await client.get(app.url_path_for("get_territory", code=AMP))).json()
    assert (epci["kind"], epci["name"], epci["siren"]) == (
        "epci",
        "Métropole d'Aix-Marseille-Provence",
        AMP,
    )
    assert epci["epci_type"] == "METRO"
    # Its population is the sum of its communes' (same INSEE vintage as theirs).
    assert epci["population"] == sum(c["population"] for c in communes) == 1_939_077


async def test_marseille_has_the_vintage_population(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get(app.url_path_for("get_territory", code="13055"))
    assert response.status_code == 200
    marseille = response.json()
    assert marseille == marseille | {
        "id": "commune:13055",
        "kind": "commune",
        "name": "Marseille",
        "siren": "211300553",
        "population": 886_040,
        "epci_code": AMP,
        "departement_code": "13",
        "region_code": "93",
        "commune_code": None,
        "vintage": "2026",
        "current": True,
    }
    assert response.headers["ETag"] == marseille["etag"]
    again = await client.get(
        app.url_path_for("get_territory", code="13055"),
        headers={"If-None-Match": marseille["etag"]},
    )
    assert again.status_code == 304
    arrondissements = await _all(
        client,
        app.url_path_for("list_territories"),
        parent="13055",
        kind="arrondissement_municipal",
    )
    assert len(arrondissements) == 16
    assert sum(a["population"] for a in arrondissements) == 886_040


async def test_search_ignores_accents_case_and_punctuation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = app.url_path_for("list_territories")

    async def ids(q: str, **params: Any) -> set[str]:
        return {t["id"] for t in await _all(client, url, q=q, **params)}

    marseille = await ids("marseille")
    assert {"commune:13055", "arrondissement_municipal:13201", f"epci:{AMP}"} <= marseille
    assert await ids("MARSEILLE") == marseille
    aix = await ids("Aix en Provence", kind="commune")
    assert aix == await ids("aix-en-provence", kind="commune") == {"commune:13001"}
    assert "departement:13" in await ids("bouches du rhone")
    assert "region:93" in await ids("Provence-Alpes-Cote d'Azur")
    assert "commune:13001" not in await ids("provence aix marseille", kind="commune")
    # A word matches the start of a word only: "aix" finds Aix-les-Bains, not Claix.
    found = {t["name"] for t in await _all(client, url, q="aix", kind="commune")}
    assert {"Aix-en-Provence", "Aix-les-Bains"} <= found
    assert not {"Claix", "Draix", "Le Saix"} & found


async def test_a_bare_code_names_the_first_kind_and_an_id_any(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def get(code: str) -> dict[str, Any]:
        response = await client.get(app.url_path_for("get_territory", code=code))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert (await get("93"))["name"] == "Seine-Saint-Denis"
    region = await get("region:93")
    assert (region["kind"], region["name"]) == ("region", "Provence-Alpes-Côte d'Azur")
    assert (await get("01015"))["kind"] == "commune"
    delegated = await get("commune_deleguee:01015")
    assert (delegated["name"], delegated["commune_code"]) == ("Arbignieu", "01015")
    assert (await get("2A"))["name"] == "Corse-du-Sud"


async def test_parent_lists_what_lies_inside_at_any_depth(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = app.url_path_for("list_territories")
    departements = await _all(client, url, parent="region:93", kind="departement")
    assert [d["code"] for d in departements] == ["04", "05", "06", "13", "83", "84"]
    bouches_du_rhone = await _all(client, url, parent="13", kind="commune")
    assert len(bouches_du_rhone) == 119
    # A bare 93 is the département: its communes, not the région's.
    assert {c["departement_code"] for c in await _all(client, url, parent="93")} == {"93"}
    assert await _all(client, url, parent="13999") == []


async def test_unknown_territory_is_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    for code in ("13999", "region:13055", "nowhere:13055", "x" * 65, "13055%00", "é"):
        response = await client.get(app.url_path_for("get_territory", code=code))
        assert_problem(response, 404, "NOT_FOUND")


async def test_bad_filters_are_400_naming_the_parameter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = app.url_path_for("list_territories")
    cases = {
        "county": {"county": "13"},
        "parent": {"parent": "canton:13"},
        "q": {"q": "--"},
        "kind": {"kind": "city"},
    }
    for parameter, params in cases.items():
        body = assert_problem(await client.get(url, params=params), 400)
        assert pointers(body) == [parameter], body


async def test_a_cursor_is_bound_to_its_filters(app: FastAPI, client: httpx.AsyncClient) -> None:
    url = app.url_path_for("list_territories")
    first = (await client.get(url, params={"parent": "13", "limit": 10})).json()
    assert len(first["items"]) == 10
    assert first["next_cursor"]
    other = await client.get(url, params={"parent": "84", "cursor": first["next_cursor"]})
    body = assert_problem(other, 400, "INVALID_PARAMETER")
    assert pointers(body) == ["cursor"]
    by_name = await _all(client, url, parent="13", kind="commune", sort="-name")
    names = [c["name"] for c in by_name]
    assert len(names) == 119
    assert names[0] > names[-1]


async def test_nothing_is_retired_in_the_shipped_vintage(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = app.url_path_for("list_territories")
    assert (await client.get(url, params={"current": "false"})).json()["items"] == []
