"""Browser tests: a real `relance serve` on a free port, and Debian's headless Chromium driven by
Playwright with every request that does not go to 127.0.0.1 blocked (and recorded).

Not part of plain `make test` (they need /usr/bin/chromium): `make test-browser` runs them,
after `make browser-deps` has installed Chromium."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, Route, async_playwright

from app import migrations
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.programme.demo import demo
from app.programme.service import seed
from tests.database import admin_url, create_scratch_database, drop_database
from tests.processes import ROOT, free_port, serve, wait_ready

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", ROOT / "artifacts")) / "browser"
ALLOWED_HOSTS = {"127.0.0.1"}
# Running as root (CI) needs --no-sandbox; the others keep Chromium from calling home.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[str]:
    """The base URL of a real server on its own migrated database, seeded, with the demo data
    (two programmes, synthetic commitments) for the overview pages to show."""
    url = await create_scratch_database(await asyncio.to_thread(admin_url), "relance_browser")
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(database_url=url)  # type: ignore[arg-type]
    engine = create_engine(settings, serving=False)  # the demo runs longer than one request
    async with create_sessionmaker(engine)() as session, session.begin():
        await seed(session, settings)
        await demo(session, settings)
    await engine.dispose()
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process = serve(url, port, log=ARTIFACTS / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, base, 60)
        yield base
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
        await drop_database(url)


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser-deps` (as root) first")
    async with async_playwright() as driver:
        yield driver


@dataclass
class Offline:
    """What the page tried to fetch from anywhere but this machine (all of it refused)."""

    blocked: list[str] = field(default_factory=list)

    async def route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in ALLOWED_HOSTS:
            await route.continue_()
        else:
            self.blocked.append(route.request.url)
            await route.abort("internetdisconnected")


@pytest.fixture
def offline() -> Offline:
    return Offline()


@pytest.fixture
async def context(playwright: Playwright, offline: Offline) -> AsyncIterator[BrowserContext]:
    """A fresh Chromium profile whose every request outside 127.0.0.1 is blocked."""
    with tempfile.TemporaryDirectory(prefix="relance-chromium-") as profile:
        context = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        await context.route("**/*", offline.route)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = context.pages[0] if context.pages else await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"JavaScript errors on {page.url}: {errors}"


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot as a CI artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path
