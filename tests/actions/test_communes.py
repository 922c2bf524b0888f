"""Action communes are checked against the territorial referential; the demo places its
actions where their titles say."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.programme.demo import PLACES, PROJECTS, SECOND_CHANTIERS, demo
from tests.conftest import Session, assert_problem, count, pointers
from tests.factories import chantier_id, make_action


async def test_unknown_commune_is_422_naming_the_item_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    body = {"code": "X-13999", "chantier_id": await chantier_id(client), "title": "x"}
    before = await count(connection, "actions")
    url = app.url_path_for("create_action")
    response = await client.post(url, json=body | {"communes": ["13999"]}, headers=editor)
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert pointers(problem) == ["/communes/0"]
    both = await client.post(
        url, json=body | {"communes": ["13055", "13999", "2A004", "99999"]}, headers=editor
    )
    assert pointers(assert_problem(both, 422)) == ["/communes/1", "/communes/3"]
    assert await count(connection, "actions") == before


async def test_arrondissements_and_corsica_are_communes_of_the_referential(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    action = await make_action(client, editor, communes=["13201", "2B033", "13055"])
    assert action["communes"] == ["13201", "2B033", "13055"]


async def test_patch_to_an_unknown_commune_is_422_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    action = await make_action(client, editor, communes=["13055"])
    url = app.url_path_for("get_action", action_id=action["id"])
    response = await client.patch(url, json={"communes": ["13001", "13999"]}, headers=editor)
    assert pointers(assert_problem(response, 422)) == ["/communes/1"]
    assert (await client.get(url)).json()["communes"] == ["13055"]


async def test_a_commune_retired_from_the_referential_is_refused_for_new_writes(
    app: FastAPI, client: httpx.AsyncClient, editor: dict[str, str], connection: AsyncConnection
) -> None:
    kept = await make_action(client, editor, communes=["13087"])
    await connection.execute(
        text("UPDATE territories SET current = false WHERE kind = 'commune' AND code = '13087'")
    )
    url = app.url_path_for("get_action", action_id=kept["id"])
    assert (await client.get(url)).json()["communes"] == ["13087"]  # the action keeps it
    renamed = await client.patch(url, json={"title": "Zone de Rousset"}, headers=editor)
    assert renamed.status_code == 200, renamed.text
    response = await client.post(
        app.url_path_for("create_action"),
        json={"code": "X-R", "chantier_id": await chantier_id(client), "title": "x",
              "communes": ["13087"]},
        headers=editor,
    )  # fmt: skip
    assert pointers(assert_problem(response, 422)) == ["/communes/0"]


def test_every_demo_title_has_its_place() -> None:
    titles = {title for titles in PROJECTS.values() for title in titles} | {
        title for *_, titles in SECOND_CHANTIERS.values() for title in titles
    }  # the second programme's too
    assert titles == set(PLACES)


@pytest.mark.parametrize(
    ("title", "communes"),
    [
        ("Extension nord du tramway de Marseille", ["13055"]),
        ("Incubateur medtech d'Aix", ["13001"]),
        ("Éco-quartier de la Ciotat", ["13028"]),
        ("Pôle d'échanges multimodal de Vitrolles", ["13117"]),
        ("Plateforme hydrogène vert de Fos", ["13039"]),
        ("Zone d'activités de Rousset réhabilitée", ["13087"]),
    ],
)
async def test_demo_places_actions_in_the_communes_their_titles_name(
    sessionmaker: Session,
    settings: Settings,
    client: httpx.AsyncClient,
    title: str,
    communes: list[str],
) -> None:
    async with sessionmaker() as session:
        await demo(session, settings)
        await session.commit()
    actions = (await client.get("/v1/actions", params={"synthetic": "true", "limit": 500})).json()[
        "items"
    ]
    [action] = [a for a in actions if a["title"] == title]
    assert action["communes"] == communes


async def test_demo_communes_are_all_communes_of_the_metropole(
    client: httpx.AsyncClient,
) -> None:
    epci = "200054807"
    places = {code for codes in PLACES.values() for code in codes}
    members = set()
    cursor = None
    while True:
        params: dict[str, str | int] = {"parent": epci, "kind": "commune", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/territories", params=params)).json()
        members |= {t["code"] for t in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(members) == 92
    assert places <= members
