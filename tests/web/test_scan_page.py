"""The waiter's scan page in a real browser: scan → PIN from the SMS inbox → the discount, at 360 px."""

from __future__ import annotations

from playwright.async_api import Page, ViewportSize, expect

from tests.flow.conftest import World
from tests.web.conftest import assert_accessible, last_pin, shot, sign_in

PHONE = ViewportSize(width=360, height=760)


async def test_waiter_scans_types_the_pin_and_sees_the_discount(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A terminal key signs in on a 360 px phone, scans a card, types the SMS PIN on the pad, sees 10 %."""
    await page.set_viewport_size(PHONE)
    await sign_in(page, live, world.terminal_key)
    assert page.url.endswith("/app/scan")
    code = page.get_by_label("Card, QR or phone")
    await expect(code).to_be_focused()
    await assert_accessible(page)

    await code.fill(world.member["card_number"])
    await code.press("Enter")  # what a USB or Bluetooth scanner sends after the code
    await expect(page.locator("#g-program")).to_have_text(world.program["name"])
    await expect(page.locator("#g-tier")).to_have_text("—")  # nobody is named before the PIN
    await expect(page.locator("#g-phone")).to_contain_text("*")
    await expect(page.locator("#resend")).to_be_disabled()
    await expect(page.locator("#resend")).to_contain_text("New PIN in")
    await assert_accessible(page)
    await shot(page, "scan-pin", database_url)

    for digit in await last_pin(live):
        await page.get_by_role("button", name=digit, exact=True).click()
    await page.get_by_role("button", name="Confirm").click()

    await expect(page.locator("#d-percent")).to_have_text("10%")
    await expect(page.locator("#g-tier")).to_have_text("silver")
    await expect(page.locator("#g-name")).to_have_text("Anna P.")
    await expect(page.locator("#d-excluded")).to_contain_text("alcohol")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 360 px ({width} px wide)"
    await assert_accessible(page)
    await shot(page, "scan-discount", database_url)

    await page.get_by_role("button", name="Next guest").click()
    await expect(code).to_be_focused()
    await expect(page.locator("#discount")).to_be_hidden()


async def test_a_wrong_pin_says_attempts_left_and_an_unknown_card_says_what_to_do(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A wrong PIN shows the attempts left; an unknown code says to check the number and scan again."""
    await sign_in(page, live, world.terminal_key)
    code = page.get_by_label("Card, QR or phone")
    await code.fill("99999")
    await code.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Card not recognised — check the number")

    await code.fill(world.member["card_number"])
    await code.press("Enter")
    pin = page.get_by_label("PIN from the guest's SMS")
    await expect(pin).to_be_focused()
    right = await last_pin(live)
    await pin.fill("0" * len(right) if right != "0" * len(right) else "1" * len(right))
    await pin.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Wrong PIN — ask the guest to read it again")
    await expect(page.locator("#attempts")).to_contain_text("Attempts left:")
    await assert_accessible(page)
    await shot(page, "scan-wrong-pin", database_url)
