"""The venue dashboard in a real browser: real numbers after a receipt, chart, exports, its connectors."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from hub.web.render import money
from tests.conftest import ADMIN
from tests.flow.conftest import World, receipt_body
from tests.web.conftest import assert_accessible, shot, sign_in


async def test_the_venue_dashboard_shows_the_receipt_it_just_got(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """After one verified visit and its receipt, a venue key sees 1 visit and the check sum, with a chart."""
    visit_id = await world.verified_visit()
    closed = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till
    )
    assert closed.status_code == 201, closed.text
    created = await world.client.post(
        "/v1/keys",
        json={"role": "venue", "name": "manager", "scope": {"venue_id": world.venue["id"]}},
        headers=ADMIN,
    )
    api = await world.client.get(f"/v1/venues/{world.venue['id']}/stats", headers=ADMIN)
    check_sum = api.json()["check_sum_minor"]
    assert check_sum > 0

    await sign_in(page, live, created.json()["api_key"])
    assert page.url.endswith("/app/venue")
    await expect(page.locator("#f-visits")).to_have_text("1")
    await expect(page.locator("#f-guests")).to_have_text("1")
    await expect(page.locator("#f-sum")).to_have_text(money(check_sum, "RUB", "en"))
    await expect(page.locator("#by-program")).to_contain_text(world.program["name"])
    await expect(page.locator("#by-tier")).to_contain_text("Silver")
    await expect(page.locator(".chart svg").first).to_be_attached()
    await assert_accessible(page)
    await shot(page, "venue-dashboard", database_url)

    csv_link = page.get_by_role("link", name="Download CSV")
    href = await csv_link.get_attribute("href")
    assert href is not None
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=live, cookies=cookies) as client:
        exported = await client.get(href)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert str(check_sum) in exported.text
