"""/docs and /redoc load only assets the service itself serves (the browser test renders them)."""

from __future__ import annotations

import re

import httpx

from app.docs.router import REDOC_VERSION, SWAGGER_UI
from tests.conftest import assert_problem

REFERENCES = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


async def _local_assets(client: httpx.AsyncClient, page: str) -> list[str]:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = REFERENCES.findall(response.text)
    assert urls, response.text
    assert [u for u in urls if not u.startswith("/")] == []  # no CDN, no fonts from elsewhere
    assert "googleapis" not in response.text
    return urls


async def test_swagger_ui_page_loads_its_assets_from_the_service(client: httpx.AsyncClient) -> None:
    urls = await _local_assets(client, "/docs")
    assert f"/docs/assets/{SWAGGER_UI}/swagger-ui-bundle.js" in urls
    assert f"/docs/assets/{SWAGGER_UI}/swagger-ui.css" in urls
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
        assert "immutable" in asset.headers["cache-control"]
    script = await client.get(f"/docs/assets/{SWAGGER_UI}/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content


async def test_swagger_ui_never_calls_the_online_validator(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert '"validatorUrl": null' in page


async def test_redoc_page_loads_the_vendored_bundle(client: httpx.AsyncClient) -> None:
    urls = await _local_assets(client, "/redoc")
    bundle = f"/docs/assets/redoc-{REDOC_VERSION}/redoc.standalone.js"
    assert bundle in urls
    script = await client.get(bundle)
    assert script.status_code == 200
    assert b"redoc.standalone.js.LICENSE.txt" in script.content[:200]
    notices = await client.get(
        f"/docs/assets/redoc-{REDOC_VERSION}/redoc.standalone.js.LICENSE.txt"
    )
    assert f'Version: "{REDOC_VERSION}"'.encode() in notices.content
    licence = await client.get(f"/docs/assets/redoc-{REDOC_VERSION}/LICENSE")
    assert b"MIT License" in licence.content


async def test_unknown_docs_asset_is_a_problem_404(client: httpx.AsyncClient) -> None:
    for path in (
        f"/docs/assets/{SWAGGER_UI}/swagger-ui.js.map",
        f"/docs/assets/{SWAGGER_UI}/..%2F..%2F__init__.py",
        "/docs/assets/redoc-0.0.0/redoc.standalone.js",
    ):
        assert_problem(await client.get(path), 404)


async def test_docs_pages_are_not_operations_of_the_contract(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
