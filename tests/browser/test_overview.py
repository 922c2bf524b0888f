"""The overview pages in a real Chromium with no network: they render, show the API's figures,
pass an axe-core accessibility check, read on a phone, and leave screenshots for CI."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import Offline, screenshot

pytestmark = pytest.mark.browser

FIRST = "AMP-RR-2020-2026"
MEASURES = ("committed", "disbursed", "planned")


async def shown(page: Page, prefix: str) -> dict[str, Decimal]:
    """The machine-readable values of the `<data>` elements the page shows."""
    values = {}
    for name in MEASURES:
        element = page.locator(f"#{prefix}{name}")
        await expect(element).to_be_visible()
        values[name] = Decimal(await element.get_attribute("value") or "")
    return values


async def accessibility_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA rules on the page as rendered."""
    results = await Axe().run(
        page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
    )
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


async def test_overview_shows_the_summary_and_passes_axe(
    server: str, page: Page, offline: Offline
) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        summary = (await client.get("/v1/summary")).json()
    await page.goto(f"{server}/?lang=fr")  # Chromium asks for English (Accept-Language)
    await expect(page.locator("h1")).to_have_text("Programmes d'investissement")
    assert await shown(page, "total-") == {k: Decimal(summary["totals"][k]) for k in MEASURES}
    assert len(summary["by_programme"]) == 2  # the demo's two programmes, both on the page
    for cell in summary["by_programme"]:
        code = cell["programme"]["code"]
        assert await shown(page, f"programme-{code}-") == {k: Decimal(cell[k]) for k in MEASURES}
    assert await accessibility_violations(page) == []
    assert (await screenshot(page, "overview")).stat().st_size > 10_000
    assert offline.blocked == []


async def test_programme_page_in_english_on_a_phone(
    server: str, page: Page, offline: Offline
) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        programme = (await client.get("/v1/programmes", params={"code": FIRST})).json()["items"][0]
        summary = (await client.get(f"/v1/programmes/{programme['id']}/summary")).json()
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{server}/?lang=fr")
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("link", name=programme["name"]).click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text(programme["name"])
    assert await shown(page, "total-") == {k: Decimal(summary["totals"][k]) for k in MEASURES}
    curves = page.get_by_role("img")  # year by year, then the cash flow
    await expect(curves).to_have_count(2)
    assert "Cumulative committed" in (await curves.nth(0).locator("title").text_content() or "")
    assert "Cash flow" in (await curves.nth(1).locator("title").text_content() or "")
    # Nothing wider than the phone but the tables' own scrolling boxes.
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert await accessibility_violations(page) == []
    assert (await screenshot(page, "programme-phone")).stat().st_size > 10_000
    assert offline.blocked == []
