"""Retention: purge old PIN challenges, SMS sends and idempotency records; erase a guest's personal data.

Purging goes in batches, each its own transaction, so a big backlog never holds one long lock and a
killed run simply continues where it stopped. Erasure keeps the facts (visits, receipts, refunds,
statistics) pointing at the member row, which stays with its tier and balance but without phone,
name or card number; the encrypted personal part of that member's outbox events is deleted, so no
connector receives the phone afterwards.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outbox.models import OutboxEvent
from hub.concierge.models import Referral
from hub.crypto import Keyring
from hub.db import Database
from hub.errors import NotFoundError
from hub.flow.models import IdempotencyRecord
from partners.members import phone_aad
from partners.models import Member
from pin.models import PinChallenge, SmsSend

BATCH_SIZE = 1000
ERASED_PHONE_MASK = "erased"
Progress = Callable[[str, int], None]


class MemberNotFoundError(NotFoundError):
    default_message = "No such member."


@dataclass(frozen=True)
class PurgeCounts:
    sms_sends: int
    pin_challenges: int
    idempotency_records: int


async def _purge_batch(
    database: Database,
    table: type[SmsSend | PinChallenge | IdempotencyRecord],
    before: dt.datetime,
    batch_size: int,
) -> int:
    """Delete up to batch_size rows created before `before`; how many went."""
    async with database.transaction() as session:
        ids = list(await session.scalars(select(table.id).where(table.created_at < before).limit(batch_size)))
        if table is PinChallenge and ids:
            # a challenge's sends go with it, whatever their own age (they reference it)
            await session.execute(delete(SmsSend).where(SmsSend.challenge_id.in_(ids)))
        if ids:
            await session.execute(delete(table).where(table.id.in_(ids)))
    return len(ids)


async def _purge_table(
    database: Database,
    table: type[SmsSend | PinChallenge | IdempotencyRecord],
    label: str,
    before: dt.datetime,
    batch_size: int,
    progress: Progress,
) -> int:
    total = 0
    while True:
        removed = await _purge_batch(database, table, before, batch_size)
        total += removed
        progress(label, total)
        if removed < batch_size:
            return total


async def purge(
    database: Database,
    before: dt.datetime,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress = lambda _label, _done: None,
) -> PurgeCounts:
    """Remove SMS sends, PIN challenges and idempotency records created before `before`."""
    sends = await _purge_table(database, SmsSend, "SMS sends", before, batch_size, progress)
    challenges = await _purge_table(database, PinChallenge, "PIN challenges", before, batch_size, progress)
    records = await _purge_table(
        database, IdempotencyRecord, "idempotency records", before, batch_size, progress
    )
    return PurgeCounts(sends, challenges, records)


@dataclass(frozen=True)
class Erasure:
    member_id: uuid.UUID
    events_scrubbed: int
    referral_notes_cleared: int


async def find_member(session: AsyncSession, program_id: uuid.UUID, card_number: str) -> uuid.UUID:
    member_id = await session.scalar(
        select(Member.id).where(Member.program_id == program_id, Member.card_number == card_number)
    )
    if member_id is None:
        raise MemberNotFoundError("No member with this card in this program.")
    return member_id


async def erase_member(
    session: AsyncSession, keyring: Keyring, member_id: uuid.UUID, now: dt.datetime
) -> Erasure:
    """Remove the member's personal data in the caller's transaction; visits and receipts stay."""
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None:
        raise MemberNotFoundError()
    # an encrypted empty phone, so every reader that decrypts (exports, rotation) keeps working
    member.phone_ciphertext = keyring.encrypt_str("", phone_aad(member.id))
    member.phone_index = ""
    member.phone_masked = ERASED_PHONE_MASK
    member.name = None
    member.card_number = f"erased:{member.id}"  # the card may be issued again; nothing maps it back
    member.status = "blocked"
    member.erased_at = member.erased_at or now
    member.updated_at = now
    scrubbed = await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.member_id == member_id, OutboxEvent.personal_ciphertext.is_not(None))
        .values(personal_ciphertext=None)
    )
    notes = await session.execute(
        update(Referral).where(Referral.member_id == member_id, Referral.note.is_not(None)).values(note=None)
    )
    return Erasure(member_id, _rowcount(scrubbed), _rowcount(notes))


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) and count > 0 else 0
