"""/docs and /redoc render in a real browser with no network: operations, titles, a screenshot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Offline, screenshot

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000  # a 1.5 MB bundle parsed on a busy 2-core machine


async def _contract(server: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server) as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


async def test_swagger_ui_shows_every_operation_offline(
    server: str, page: Page, offline: Offline
) -> None:
    operations = _operations(await _contract(server))
    await page.goto(f"{server}/docs")
    listed = page.locator("#operations-commitments-list_commitments")
    await expect(listed).to_be_visible(timeout=TIMEOUT_MS)
    await expect(listed).to_contain_text("/v1/commitments")
    await expect(listed).to_contain_text(operations["list_commitments"]["summary"])
    # Each operation appears under each of its tags (the progress ones have two).
    # (Swagger UI writes a tag's spaces as underscores in the ids: "open data" -> open_data.)
    expected = {
        f"operations-{tag.replace(' ', '_')}-{name}"
        for name, op in operations.items()
        for tag in op["tags"]
    }
    shown = await page.locator(".opblock").evaluate_all("blocks => blocks.map(b => b.id)")
    assert sorted(shown) == sorted(expected)
    await expect(page.locator(".info .title")).to_contain_text("Relance API")
    shot = await screenshot(page, "docs")
    assert shot.stat().st_size > 10_000
    assert offline.blocked == []


async def test_redoc_shows_the_title_and_an_operation_offline(
    server: str, page: Page, offline: Offline
) -> None:
    operations = _operations(await _contract(server))
    await page.goto(f"{server}/redoc")
    await expect(page.locator("h1").first).to_contain_text("Relance API", timeout=TIMEOUT_MS)
    operation = page.locator('[id="tag/commitments/operation/list_commitments"]')
    await expect(operation).to_contain_text(operations["list_commitments"]["summary"])
    await expect(operation).to_contain_text("/v1/commitments")
    shot = await screenshot(page, "redoc", full_page=False)  # the whole page is 50,000 px
    assert shot.stat().st_size > 10_000
    assert offline.blocked == []


async def test_the_browser_reaches_nothing_but_this_machine(
    server: str, page: Page, offline: Offline
) -> None:
    """The two tests above prove "offline" only if this holds: a CDN request is refused."""
    await page.goto(f"{server}/healthz")
    cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
    failed = await page.evaluate("url => fetch(url).then(() => false, () => true)", cdn)
    assert failed is True
    assert offline.blocked == [cdn]
