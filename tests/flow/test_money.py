"""Receipts, quotes and refunds: the money of one check is right in every case."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from hub.db import Database
from hub.flow.models import Visit
from tests import builders
from tests.conftest import error_of
from tests.flow.conftest import World, receipt_body


async def visit_of(world: World, card_number: str) -> str:
    """A verified coalition visit of this card at the world's till."""
    scan = await world.scan(card_number)
    assert scan.status_code == 201, scan.text
    verified = await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert verified.status_code == 200, verified.text
    visit_id: str = verified.json()["visit_id"]
    return visit_id


async def post_receipt(world: World, visit_id: str, body: dict[str, Any]) -> Any:
    return await world.client.post(f"/v1/visits/{visit_id}/receipt", json=body, headers=world.till)


# ---- item: a check belongs to one visit ----


async def test_the_same_check_on_another_guests_visit_is_a_conflict(world: World, db: Database) -> None:
    """The same check_id and body posted to a second guest's visit is 409 receipt_conflict, not the first
    guest's receipt; the second visit stays open and takes its own check."""
    first_visit = await world.verified_visit()
    first = await post_receipt(world, first_visit, receipt_body("ЧЕК-Один"))
    assert first.status_code == 201, first.text
    other = await builders.member(world.client, world.program, name="Ольга Иванова")
    second_visit = await visit_of(world, other["card_number"])
    clash = await post_receipt(world, second_visit, receipt_body("ЧЕК-Один"))
    assert clash.status_code == 409, clash.text
    error = error_of(clash)
    assert error["code"] == "receipt_conflict"
    assert error["details"]["visit_id"] == first_visit
    async with db.sessionmaker() as session:
        visit = await session.scalar(select(Visit).where(Visit.id == uuid.UUID(second_visit)))
    assert visit is not None
    assert (visit.status, visit.closed_at) == ("open", None)
    own = await post_receipt(world, second_visit, receipt_body("ЧЕК-Два"))
    assert own.status_code == 201, own.text
