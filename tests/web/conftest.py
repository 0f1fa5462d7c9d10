"""Browser tests: the app served by uvicorn on a free loopback port (on the test's own event loop, so it
shares the test database), driven by Debian's Chromium through Playwright; axe-core checks each page."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from playwright.async_api import Browser, Page, async_playwright

from tests.flow.conftest import World, world  # noqa: F401  # the guest-flow world, reused here

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HERE.parent / "artifacts"
SERIOUS = ("serious", "critical")


@pytest.fixture
async def live(app: Litestar) -> AsyncIterator[str]:
    """The test's app behind a real HTTP server (the fixture already started it: no lifespan here)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240  # once per run, before any page
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.", pytrace=False)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser profile in English at a tablet's width (a test may resize it)."""
    context = await browser.new_context(locale="en-US", viewport={"width": 1024, "height": 900})
    tab = await context.new_page()
    yield tab
    await context.close()


async def sign_in(page: Page, base: str, api_key: str, path: str = "/app") -> None:
    await page.goto(f"{base}/app/login?next={path}")
    await page.get_by_label("API key").fill(api_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def shot(page: Page, name: str, database_url: str) -> Path:
    """A full-page screenshot under tests/artifacts/ (git-ignored), one per database."""
    ARTIFACTS.mkdir(exist_ok=True)
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    path = ARTIFACTS / f"{name}-{kind}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_accessible(page: Page) -> None:
    """axe-core (from npm, injected into the page) finds no serious or critical WCAG 2 A/AA violation."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs npm ci in tests/web.", pytrace=False)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())  # evaluated over DevTools, so the page's CSP does not block it
    result: dict[str, Any] = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    bad = [v for v in result["violations"] if v["impact"] in SERIOUS]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
    ]
    assert not bad, "\n".join(summary)


async def last_pin(base: str) -> str:
    """The PIN as the guest would read it: from the console gateway's development inbox, over HTTP."""
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.get("/dev/sms", headers={"Accept": "application/json"})
    response.raise_for_status()
    found = re.search(r"\b(\d{4,10})\b", response.json()[0]["text"])
    assert found, response.text
    return found.group(1)
