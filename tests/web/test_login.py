"""Signing in to the pages: the session cookie, the wrong role refused, a wrong key, sign-out, CSRF."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page, expect

from tests.conftest import ADMIN_KEY
from tests.flow.conftest import World
from tests.web.conftest import assert_accessible, shot, sign_in


async def test_a_terminal_key_is_refused_on_the_operator_board(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A terminal key signed in and sent to /app/operator gets a 403 page naming the key it needs."""
    await sign_in(page, live, world.terminal_key, path="/app/operator")
    heading = page.get_by_role("heading", name="Not for this key")
    await expect(heading).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("terminal key; this page needs one of: admin")
    response = await page.request.get(f"{live}/app/operator")
    assert response.status == 403
    await assert_accessible(page)
    await shot(page, "login-wrong-role", database_url)


async def test_the_session_cookie_is_http_only_strict_and_holds_no_key(
    page: Page, live: str, world: World
) -> None:
    """The cookie is HttpOnly and SameSite=Strict, and its value is not the API key."""
    await sign_in(page, live, world.terminal_key)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["hub_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert world.terminal_key not in session["value"]
    assert await page.evaluate("document.cookie") == "" or "hub_session" not in await page.evaluate(
        "document.cookie"
    )


async def test_a_wrong_key_is_told_and_sign_out_ends_the_session(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """An unknown key stays on the sign-in page with a message; after sign-out the pages ask to sign in."""
    await sign_in(page, live, "hub_term_not-a-real-key")
    await expect(page.get_by_role("alert")).to_contain_text("This key is unknown or revoked")
    await assert_accessible(page)
    await shot(page, "login-wrong-key", database_url)

    await sign_in(page, live, ADMIN_KEY)
    assert page.url.endswith("/app/operator")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/app/login")
    await page.goto(f"{live}/app/operator")
    assert "/app/login" in page.url


async def test_russian_by_accept_language_and_switchable(browser: Browser, live: str) -> None:
    """A Russian browser gets the Russian page; the switch link turns it into English."""
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    await page.goto(f"{live}/app/login")
    await expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "ru"
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "en"
    await context.close()


async def test_the_api_takes_the_session_cookie_only_with_the_csrf_token(
    page: Page, live: str, world: World
) -> None:
    """With the page's cookie a POST to /v1 without X-CSRF-Token is refused (403), with it accepted."""
    await sign_in(page, live, world.terminal_key)
    cookie = {c["name"]: c["value"] for c in await page.context.cookies()}["hub_session"]
    token = await page.evaluate("JSON.parse(document.getElementById('hub-config').textContent).csrf")
    async with httpx.AsyncClient(base_url=live, cookies={"hub_session": cookie}) as client:
        body = {"code": world.member["card_number"]}
        refused = await client.post("/v1/scans", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "csrf_failed"
        cross_site = await client.post(
            "/v1/scans", json=body, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}
        )
        assert cross_site.status_code == 403, cross_site.text
        accepted = await client.post("/v1/scans", json=body, headers={"X-CSRF-Token": token})
        assert accepted.status_code == 201, accepted.text


async def test_a_revoked_key_ends_its_sessions(page: Page, live: str, world: World) -> None:
    """Revoking the API key signs its browsers out at once."""
    async with httpx.AsyncClient(base_url=live, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        created = await admin.post(
            "/v1/keys", json={"role": "venue", "name": "tablet", "scope": {"venue_id": world.venue["id"]}}
        )
        assert created.status_code == 201, created.text
        await sign_in(page, live, created.json()["api_key"])
        assert page.url.endswith("/app/venue")
        assert (await admin.delete(f"/v1/keys/{created.json()['id']}")).status_code == 204
    await page.goto(f"{live}/app")
    assert "/app/login" in page.url
