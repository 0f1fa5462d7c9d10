"""Which settlement month a fact lands in, and the lock that keeps a month from closing under a writer.

Writers of settled facts (a verified visit, a receipt, a refund) hold the settlement lock shared for their
transaction; closing a month holds it exclusively (a PostgreSQL advisory lock, taken before anything else
in either: no deadlock; SQLite's BEGIN IMMEDIATE serialises writers already). So a fact is either in the
statement a close froze or committed after it, when it sees the month closed and lands in the month it
is recorded in, which is open: a month is closed only once it has ended.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.settlement.models import SettlementClose
from partners import settlement as law

LOCK_KEY = 0x5E771E  # the settlement months' advisory lock


async def hold(session: AsyncSession) -> None:
    """Keep every month from closing until this transaction ends (a writer of settled facts)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": LOCK_KEY})


async def lock_for_closing(session: AsyncSession) -> None:
    """Wait for the writers in flight, and hold new ones until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


async def is_closed(session: AsyncSession, period: law.Period) -> bool:
    found = await session.scalar(select(SettlementClose.period).where(SettlementClose.period == str(period)))
    return found is not None


async def receipt_month(
    session: AsyncSession, timezone: str, closed_at: dt.datetime, now: dt.datetime
) -> str | None:
    """None: the receipt settles in the month of its closed_at; else that month is closed and it settles in
    the month it is recorded in."""
    if not await is_closed(session, law.period_of(closed_at, timezone)):
        return None
    return str(law.period_of(now, timezone))
