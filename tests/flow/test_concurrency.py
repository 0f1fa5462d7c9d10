"""Concurrent terminals: PIN attempts are counted one at a time, a receipt is written once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from connectors.outbox import OutboxEvent
from hub.db import Database
from hub.flow.models import Receipt, Visit
from pin.models import PinChallenge
from tests.flow.conftest import World, receipt_body


async def _count(db: Database, column: object, *where: object) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)  # type: ignore[arg-type]


async def test_fifty_concurrent_wrong_pins_compare_at_most_five(world: World, db: Database) -> None:
    """50 wrong guesses at once: exactly 5 are compared (4 pin_invalid, then locked), the rest see 423."""
    scan_id = (await world.scan()).json()["scan_id"]
    wrong = "000000" if world.last_pin() != "000000" else "111111"
    answers = await asyncio.gather(
        *(
            world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": wrong}, headers=world.till)
            for _ in range(50)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(422) == 4, codes
    assert codes.count(423) == 46, codes
    async with db.sessionmaker() as session:
        challenge = (await session.scalars(select(PinChallenge))).one()
    assert (challenge.attempts, challenge.status) == (5, "locked")


async def test_twenty_concurrent_right_pins_verify_once(world: World, db: Database) -> None:
    """20 right answers at once: one visit, one event; the others are told the PIN was used."""
    scan_id = (await world.scan()).json()["scan_id"]
    pin = world.last_pin()
    answers = await asyncio.gather(
        *(
            world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": pin}, headers=world.till)
            for _ in range(20)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, codes
    assert await _count(db, Visit.id) == 1
    assert await _count(db, OutboxEvent.id, OutboxEvent.type == "visit.verified") == 1


async def test_duplicate_receipts_at_once_are_written_once(world: World, db: Database) -> None:
    """The same receipt posted 20 times at once: one 201, the rest 200 with the same receipt."""
    visit_id = await world.verified_visit()
    answers = await asyncio.gather(
        *(
            world.client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
            for _ in range(20)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 19 + [201], codes
    assert len({a.json()["receipt_id"] for a in answers}) == 1
    assert await _count(db, Receipt.id) == 1
    assert await _count(db, OutboxEvent.id, OutboxEvent.type == "receipt.closed") == 1


async def test_conflicting_receipts_at_once(world: World, db: Database) -> None:
    """Ten different bodies under one check_id at once: one wins, the others are 409 receipt_conflict."""
    visit_id = await world.verified_visit()
    answers = await asyncio.gather(
        *(
            world.client.post(
                f"/v1/visits/{visit_id}/receipt", json=receipt_body(staff=f"waiter {i}"), headers=world.till
            )
            for i in range(10)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 9, codes
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
        "receipt_conflict",
        "visit_closed",
    }
    assert await _count(db, Receipt.id) == 1
