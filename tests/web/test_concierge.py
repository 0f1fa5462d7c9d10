"""The concierge's page in a real browser: find a guest by card, book, see the visit and its check, charts."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.stats.service import K_ANONYMITY
from hub.web.render import money
from tests import builders
from tests.conftest import ADMIN, bearer
from tests.flow.conftest import World, receipt_body
from tests.web.conftest import assert_accessible, shot, sign_in

PHONE = ViewportSize(width=360, height=760)


async def _visit_with_receipt(world: World, member: dict[str, Any], check_id: str) -> None:
    """A guest's visit through the real flow (scan → SMS PIN) and its receipt from the till."""
    scan = await world.scan(member["card_number"])
    assert scan.status_code == 201, scan.text
    answer = await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert answer.status_code == 200, answer.text
    closed = await world.client.post(
        f"/v1/visits/{answer.json()['visit_id']}/receipt",
        json=receipt_body(check_id),
        headers=world.till,
    )
    assert closed.status_code == 201, closed.text


async def test_a_concierge_books_a_guest_and_sees_the_visit_and_its_check(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """At 360 px a concierge finds the guest by card, books a table (booked); after the visit and its receipt
    the referral is visited with its check sum, and the top venues chart is drawn."""
    key = await builders.key(world.client, "concierge", program_ids=[world.program["id"]])
    await page.set_viewport_size(PHONE)
    await sign_in(page, live, key)
    assert page.url.endswith("/app/concierge")

    search = page.get_by_label("Card number or phone")
    await search.fill("77000000000000")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#con-notice")).to_contain_text("check the number, or search by the phone")

    await search.fill(world.member["card_number"].lower())
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#guest-card")).to_have_text(world.member["card_number"])
    await expect(page.locator("#guest-name")).to_have_text("Anna Petrova")
    await page.get_by_label("Venue", exact=True).select_option(world.venue["id"])
    await page.get_by_label("Guests", exact=True).fill("2")
    await page.get_by_label("Note", exact=True).fill("window table")
    await page.get_by_role("button", name="Book a table").click()

    await expect(page.get_by_role("status")).to_contain_text(f"Booked: {world.venue['name']}")
    row = page.locator("#referrals-table tbody tr").first
    await expect(row).to_contain_text(world.venue["name"])
    await expect(row.locator("[data-role=status]")).to_have_text("booked")
    await expect(row.locator("[data-role=check]")).to_have_text("—")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 360 px ({width} px wide)"
    await assert_accessible(page)
    await shot(page, "concierge-booked", database_url)

    # the guest comes, and enough other guests that the venue is ranked (k-anonymity)
    await _visit_with_receipt(world, world.member, "CHK-0")
    for n in range(1, K_ANONYMITY):
        other = await builders.member(world.client, world.program, tier_code="silver")
        await _visit_with_receipt(world, other, f"CHK-{n}")
    listed = await world.client.get("/v1/referrals", headers=bearer(key))
    (referral,) = listed.json()["items"]
    assert referral["status"] == "visited"
    assert referral["check_sum_minor"] > 0

    await page.set_viewport_size({"width": 1024, "height": 900})
    await page.reload()
    row = page.locator(f"tr[data-referral='{referral['id']}']")
    await expect(row.locator("[data-role=status]")).to_have_text("visited")
    await expect(row.locator("[data-role=check]")).to_have_text(
        money(referral["check_sum_minor"], "RUB", "en")
    )
    await expect(page.locator("#chart-venues svg")).to_be_attached()
    await expect(page.locator("#top-venues")).to_contain_text(world.venue["name"])
    await expect(page.locator("#districts")).to_contain_text(world.venue["district"])
    await expect(page.locator("#h-visits")).to_have_text("1")
    await expect(page.locator("#guest-visits")).to_contain_text(world.venue["name"])
    await expect(page.locator("#conversion")).to_contain_text("Came: 1 of 1")
    await assert_accessible(page)
    await shot(page, "concierge-visited", database_url)

    await page.get_by_label("Status", exact=True).select_option("booked")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#referrals-table")).to_have_count(0)
    xlsx = await page.request.get(
        f"{live}{await page.get_by_role('link', name='Download XLSX').get_attribute('href')}"
    )
    assert xlsx.status == 200
    csv = await page.request.get(f"{live}/v1/referrals?format=csv&program_id={world.program['id']}")
    assert csv.status == 200
    assert str(referral["check_sum_minor"]) in await csv.text()


async def test_a_booking_the_hub_refuses_says_what_to_do(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A time long past is refused on the page with what to pick instead, keeping what was typed."""
    key = await builders.key(world.client, "concierge", program_ids=[world.program["id"]])
    await sign_in(page, live, key, path=f"/app/concierge?find={world.member['card_number']}")
    await page.get_by_label("When", exact=True).fill("2026-01-10T20:00")
    await page.get_by_label("Note", exact=True).fill("birthday")
    await page.get_by_role("button", name="Book a table").click()
    await expect(page.locator("#con-error")).to_contain_text("Pick a date and time from today on")
    await expect(page.get_by_label("Note", exact=True)).to_have_value("birthday")
    listed = await world.client.get("/v1/referrals", headers=ADMIN)
    assert listed.json()["items"] == []
    await assert_accessible(page)
    await shot(page, "concierge-refused", database_url)


async def test_a_venue_key_is_refused_on_the_concierge_page(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A venue key sent to /app/concierge gets the 403 page naming the keys it needs."""
    created = await world.client.post(
        "/v1/keys",
        json={"role": "venue", "name": "manager", "scope": {"venue_id": world.venue["id"]}},
        headers=ADMIN,
    )
    await sign_in(page, live, created.json()["api_key"], path="/app/concierge")
    await expect(page.get_by_role("heading", name="Not for this key")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text(
        "venue key; this page needs one of: concierge, admin"
    )
    response = await page.request.get(f"{live}/app/concierge")
    assert response.status == 403
    await assert_accessible(page)
    await shot(page, "concierge-wrong-role", database_url)


async def test_the_concierge_page_in_russian(
    browser: Browser, live: str, world: World, database_url: str
) -> None:
    """A Russian browser gets the page, its booking form and its statuses in Russian."""
    key = await builders.key(world.client, "concierge", program_ids=[world.program["id"]])
    context = await browser.new_context(locale="ru-RU", viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{live}/app/login?next=/app/concierge?find={world.member['card_number']}")
    await page.get_by_label("API-ключ").fill(key)
    await page.get_by_role("button", name="Войти").click()
    await expect(page.get_by_role("heading", name="Консьерж", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Забронировать").click()
    await expect(page.locator("[data-role=status]")).to_have_text("забронировано")
    await assert_accessible(page)
    await shot(page, "concierge-ru", database_url)
    await context.close()
