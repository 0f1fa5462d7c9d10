"""Retention: old PIN challenges, SMS sends and idempotency records are purged in batches; erasing a guest
removes the phone, name and card everywhere and leaves every count and sum as it was."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from connectors.outbox.models import OutboxEvent
from connectors.outbox.writer import personal_aad
from hub.clock import FrozenClock
from hub.db import Database
from hub.flow.models import IdempotencyRecord, Receipt, Visit
from hub.retention import erase_member, purge
from hub.stats.models import StatsDaily
from partners.members import decrypt_phone
from partners.models import Member
from pin.models import PinChallenge, SmsSend
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING, error_of
from tests.flow.conftest import World, receipt_body

HUB = str(Path(sys.executable).with_name("coalition-hub"))


async def _visit_with_receipt(world: World, clock: FrozenClock, check_id: str) -> str:
    visit_id = await world.verified_visit()
    closed = await world.client.post(
        f"/v1/visits/{visit_id}/receipt",
        json=receipt_body(check_id, closed_at=clock.now().isoformat()),
        headers=world.till,
    )
    assert closed.status_code == 201, closed.text
    clock.advance(minutes=11)  # past the per-card SMS window
    return visit_id


async def _count(db: Database, column: Any, *where: Any) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


async def _backdate(db: Database, days: int) -> None:
    """Every PIN challenge, SMS send and idempotency record so far is made `days` old."""
    async with db.transaction() as session:
        for table in (PinChallenge, SmsSend, IdempotencyRecord):
            rows = (await session.execute(select(table.id, table.created_at))).all()
            for row_id, created_at in rows:
                await session.execute(
                    update(table)
                    .where(table.id == row_id)
                    .values(created_at=created_at - dt.timedelta(days=days))
                )


async def test_purge_removes_only_rows_past_the_age_in_batches(
    world: World, db: Database, clock: FrozenClock
) -> None:
    """Rows older than the cut-off go, batch by batch with progress; newer ones and the visits stay."""
    for n in range(2):
        await _visit_with_receipt(world, clock, f"OLD-{n}")
    replayed = await world.client.post(
        "/v1/partners", json={"name": "Idempotent"}, headers={**ADMIN, "Idempotency-Key": "old-1"}
    )
    assert replayed.status_code == 201
    await _backdate(db, 40)
    await _visit_with_receipt(world, clock, "NEW-1")
    seen: list[tuple[str, int]] = []
    async with db.reader() as session:
        newest = await session.scalar(select(func.max(PinChallenge.created_at)))
    assert newest is not None
    counts = await purge(
        db, newest - dt.timedelta(days=30), batch_size=1, progress=lambda *step: seen.append(step)
    )
    assert (counts.sms_sends, counts.pin_challenges, counts.idempotency_records) == (2, 2, 1)
    assert {("SMS sends", 1), ("SMS sends", 2)} <= set(seen)
    assert await _count(db, PinChallenge.id) == 1
    assert await _count(db, SmsSend.id) == 1
    assert await _count(db, IdempotencyRecord.id) == 0
    assert await _count(db, Visit.id) == 3
    assert await _count(db, Receipt.id) == 3
    again = await purge(db, newest - dt.timedelta(days=30))
    assert (again.sms_sends, again.pin_challenges, again.idempotency_records) == (0, 0, 0)


async def _aggregates(world: World, db: Database) -> list[Any]:
    """Counts and sums that must survive an erasure: tables, rollups and the statistics answers."""
    async with db.reader() as session:
        receipts = (
            await session.execute(
                select(
                    func.count(Receipt.id), func.sum(Receipt.total_minor), func.sum(Receipt.discount_minor)
                )
            )
        ).one()
        rollups = (
            await session.execute(
                select(
                    func.sum(StatsDaily.visits),
                    func.sum(StatsDaily.receipts),
                    func.sum(StatsDaily.check_sum_minor),
                )
            )
        ).one()
    venue_stats = await world.client.get(
        f"/v1/venues/{world.venue['id']}/stats",
        params={"from": "2026-11-01", "to": "2026-11-30"},
        headers=ADMIN,
    )
    program_stats = await world.client.get(
        f"/v1/programs/{world.program['id']}/stats",
        params={"from": "2026-11-01", "to": "2026-11-30"},
        headers=ADMIN,
    )
    assert venue_stats.status_code == program_stats.status_code == 200, venue_stats.text
    return [
        tuple(receipts),
        tuple(rollups),
        await _count(db, Visit.id),
        venue_stats.json(),
        program_stats.json(),
    ]


async def _event_phones(db: Database, member_id: uuid.UUID) -> list[str]:
    async with db.reader() as session:
        events = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.member_id == member_id)))
    assert events
    return [
        json.loads(TEST_KEYRING.decrypt_str(e.personal_ciphertext, personal_aad(e.id)))["phone"]
        for e in events
        if e.personal_ciphertext is not None
    ]


async def test_erasing_a_guest_keeps_every_aggregate_and_removes_the_phone(
    world: World, db: Database, clock: FrozenClock
) -> None:
    """After erasure the counts and sums are unchanged; phone, name and card are gone from the member row,
    from the events' personal part and from every answer; the old card is no longer recognised."""
    other = await builders.member(world.client, world.program, tier_code="gold")
    for n in range(2):
        await _visit_with_receipt(world, clock, f"CHK-{n}")
    guest = world.member
    member_id = uuid.UUID(guest["id"])
    world.member = other
    await _visit_with_receipt(world, clock, "CHK-OTHER")
    assert await _event_phones(db, member_id)  # the phone travels encrypted beside the events
    before = await _aggregates(world, db)

    async with db.transaction() as session:
        erasure = await erase_member(session, TEST_KEYRING, member_id, clock.now())
    assert erasure.events_scrubbed >= 2

    assert await _aggregates(world, db) == before
    assert await _event_phones(db, member_id) == []
    assert await _event_phones(db, uuid.UUID(other["id"])) != []  # another guest's events keep theirs
    async with db.reader() as session:
        row = await session.get_one(Member, member_id)
    assert decrypt_phone(TEST_KEYRING, row) == ""
    assert (row.name, row.phone_masked, row.status) == (None, "erased", "blocked")
    assert row.card_number == f"erased:{member_id}"
    assert row.erased_at == clock.now()
    assert row.phone_index == ""
    profile = await world.client.get(f"/v1/members/{member_id}", headers=ADMIN)
    assert profile.status_code == 200, profile.text
    for secret in (guest["card_number"], guest["phone_masked"], "Anna", "Petrova"):
        assert secret not in profile.text
    rescan = await world.scan(guest["card_number"])
    assert (rescan.status_code, error_of(rescan)["code"]) == (422, "card_not_recognized")


async def test_erase_and_purge_from_the_command_line(world: World, db: Database, clock: FrozenClock) -> None:
    """`members erase --program --card` erases that guest; `retention purge` runs and reports."""
    await _visit_with_receipt(world, clock, "CHK-CLI")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": db.url,
        "HUB_SECRET_KEYS": base64.urlsafe_b64encode(TEST_KEYRING.raw_keys[0]).decode().rstrip("="),
    }
    card = world.member["card_number"]
    erase = await asyncio.create_subprocess_exec(
        HUB, "members", "erase", "--program", world.program["id"], "--card", card,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(erase.communicate(), 60)
    assert erase.returncode == 0, err.decode()
    assert b"erased" in err
    async with db.reader() as session:
        row = await session.get_one(Member, uuid.UUID(world.member["id"]))
    assert (row.erased_at is not None, row.name) == (True, None)
    missing = await asyncio.create_subprocess_exec(
        HUB, "members", "erase", str(uuid.uuid4()),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.wait_for(missing.communicate(), 60)
    assert missing.returncode == 1
    purged = await asyncio.create_subprocess_exec(
        HUB, "retention", "purge", "--older-than", "1",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(purged.communicate(), 60)
    assert purged.returncode == 0, err.decode()
    assert b"pin challenges" in out
