"""The operator board in a real browser: connector health, and retrying a dead delivery."""

from __future__ import annotations

import uuid

from playwright.async_api import FilePayload, Page, expect
from sqlalchemy import select, update

from connectors.models import Delivery
from hub.db import Database
from tests.conftest import ADMIN, ADMIN_KEY
from tests.flow.conftest import World
from tests.web.conftest import assert_accessible, shot, sign_in


async def _dead_delivery(world: World, db: Database) -> tuple[dict[str, object], uuid.UUID]:
    """A venue CRM that got a visit event; its delivery is then marked dead as the dispatcher would after
    its last attempt (the retry path is what is under test, not the backoff)."""
    created = await world.client.post(
        "/v1/connectors",
        json={
            "name": "Venue CRM",
            "kind": "rest",
            "owner": {"venue_id": world.venue["id"]},
            "url": "http://127.0.0.1:9/events",
            "auth": {"type": "none"},
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    await world.verified_visit()
    connector_id = uuid.UUID(created.json()["id"])
    async with db.transaction() as session:
        delivery_id = await session.scalar(select(Delivery.id).where(Delivery.connector_id == connector_id))
        assert delivery_id is not None
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status="dead", attempts=8, last_status_code=None, last_error="connection refused")
        )
    return created.json(), delivery_id


async def test_the_operator_retries_a_dead_delivery(
    page: Page, live: str, world: World, db: Database, database_url: str
) -> None:
    """The board lists the connector and its dead delivery; Retry puts it back in the queue (pending)."""
    connector, delivery_id = await _dead_delivery(world, db)
    await sign_in(page, live, ADMIN_KEY)
    assert page.url.endswith("/app/operator")
    row = page.locator(f"tr[data-connector='{connector['id']}']")
    await expect(row).to_contain_text("Venue CRM")
    await expect(row).to_contain_text("active")
    dead_row = page.locator(f"tr[data-delivery='{delivery_id}']")
    await expect(dead_row).to_contain_text("visit.verified")
    await expect(dead_row).to_contain_text("connection refused")
    await assert_accessible(page)
    await shot(page, "operator-dead", database_url)

    await dead_row.get_by_role("button", name="Retry").click()
    await expect(dead_row.locator("[data-role=state]")).to_have_text("pending")
    await expect(page.get_by_role("status").first).to_contain_text("Queued again")
    async with db.reader() as session:
        assert await session.scalar(select(Delivery.status).where(Delivery.id == delivery_id)) == "pending"
    await shot(page, "operator-retried", database_url)


async def test_the_operator_imports_members_with_progress(
    page: Page, live: str, world: World, database_url: str
) -> None:
    """A CSV chosen on the board is imported in the background; the page shows the finished tally."""
    lines = ["card_number,phone,name,tier_code"]
    lines += [f"88{n:011d},+7926{n:07d},Guest {n},silver" for n in range(1, 1201)]
    lines.append("bad,not-a-phone,,")
    await sign_in(page, live, ADMIN_KEY)
    await page.get_by_label("Program").select_option(world.program["id"])
    await page.get_by_label("CSV file").set_input_files(
        files=FilePayload(name="members.csv", mimeType="text/csv", buffer="\n".join(lines).encode())
    )
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.locator("#import-text")).to_contain_text(
        "Done: 1200 created, 0 updated, 1 rejected.", timeout=30_000
    )
    await expect(page.locator("#import-rejections")).to_contain_text("1202:")
    await assert_accessible(page)
    await shot(page, "operator-import", database_url)
