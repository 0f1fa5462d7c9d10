"""The reference rows every guest-flow request reads — terminal, venue, program, offers, tiers — from a
process cache (hub.db.cache.WatchedCache) instead of the database each time.

A miss is read through the caller's session (no second connection: a full pool never waits on
itself) and kept as transient copies of the rows, which are what callers get: read-only, in no
session, so nothing the caller's transaction does (a rollback expiring its objects) reaches them.
A change to any of these tables committed through this process empties the cache at once; a change
made by another process is seen within CATALOG_SECONDS. Members, scans, visits and receipts are
never cached.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.db.cache import WatchedCache
from partners.models import Offer, Partner, Program, Terminal, Tier, Venue

CATALOG_SECONDS = 2.0
CATALOG = WatchedCache("catalog", Partner, Program, Tier, Venue, Terminal, Offer, seconds=CATALOG_SECONDS)
T = TypeVar("T")


R = TypeVar("R")


def snapshot(row: R) -> R:
    """A transient copy of a loaded row: the same column values, in no session."""
    mapper = inspect(row).mapper
    values = {attr.key: getattr(row, attr.key) for attr in mapper.column_attrs}
    copy: R = mapper.class_(**values)
    return copy


class Catalog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def _load(self, key: tuple[Any, ...], loader: Callable[[], Awaitable[T]]) -> T:
        return await CATALOG.load((id(self.database), *key), loader)

    async def terminal(self, session: AsyncSession, terminal_id: uuid.UUID) -> Terminal | None:
        async def load() -> Terminal | None:
            row = await session.get(Terminal, terminal_id)
            return snapshot(row) if row is not None else None

        return await self._load(("terminal", terminal_id), load)

    async def venue(self, session: AsyncSession, venue_id: uuid.UUID) -> Venue:
        async def load() -> Venue:
            return snapshot(await session.get_one(Venue, venue_id))

        return await self._load(("venue", venue_id), load)

    async def program(self, session: AsyncSession, program_id: uuid.UUID) -> Program:
        async def load() -> Program:
            return snapshot(await session.get_one(Program, program_id))

        return await self._load(("program", program_id), load)

    async def programs_offered_at(self, session: AsyncSession, venue: Venue) -> frozenset[uuid.UUID]:
        """Programs with an active offer at this venue, its partner, or everywhere."""

        async def query() -> frozenset[uuid.UUID]:
            rows = await session.scalars(
                select(Offer.program_id).where(
                    Offer.is_active.is_(True),
                    or_(
                        Offer.venue_id == venue.id,
                        Offer.partner_id == venue.partner_id,
                        and_(Offer.venue_id.is_(None), Offer.partner_id.is_(None)),
                    ),
                )
            )
            return frozenset(rows)

        return await self._load(("offered_at", venue.id), query)

    async def active_offers(self, session: AsyncSession, program_id: uuid.UUID) -> tuple[Offer, ...]:
        async def query() -> tuple[Offer, ...]:
            rows = await session.scalars(
                select(Offer).where(Offer.program_id == program_id, Offer.is_active.is_(True))
            )
            return tuple(snapshot(row) for row in rows)

        return await self._load(("offers", program_id), query)

    async def tiers(self, session: AsyncSession, program_id: uuid.UUID) -> tuple[Tier, ...]:
        """The program's tiers, lowest position first."""

        async def query() -> tuple[Tier, ...]:
            rows = await session.scalars(
                select(Tier).where(Tier.program_id == program_id).order_by(Tier.position)
            )
            return tuple(snapshot(row) for row in rows)

        return await self._load(("tiers", program_id), query)

    async def tier(self, session: AsyncSession, program_id: uuid.UUID, code: str | None) -> Tier | None:
        if code is None:
            return None
        return next((t for t in await self.tiers(session, program_id) if t.code == code), None)
