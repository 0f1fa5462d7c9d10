"""Per-key request rate limits, counted in the database so every API process shares one count.

A fixed one-minute window per key, one row per (key, minute) holding the hits of every process. A
process does not write that row on every request: it leases a block of hits (one upsert that adds the
block and returns the new total) and spends it from memory. Far from the limit a block is an eighth
of what is left, so a busy key costs one write every many requests; near the limit the block shrinks
to one hit, so the last hits of a minute are counted exactly across processes. Hits a process leased
and did not use count as used (a key can be refused at most a few hits early when it is spread over
several processes). Past the limit the answer is 429 with Retry-After set to the seconds left in the
minute. The first lease of a new minute deletes the key's older rows, so a key never has more than two.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import BigInteger, String, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import Clock
from hub.config import Settings
from hub.db import Base, Database
from hub.errors import RateLimitedError
from hub.scope import Scope as Principal

WINDOW_SECONDS = 60
LEASE_FRACTION = 8  # a lease takes at most 1/8 of what is left of the key's minute


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"

    # an API key id; other counters use `<purpose>:<id>` and windows of their own length
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # minutes since the epoch
    hits: Mapped[int]


def subject_of(principal: Principal) -> str:
    return str(principal.key_id) if principal.key_id is not None else "bootstrap-admin"


def limit_for(principal: Principal, settings: Settings) -> int:
    if principal.role == "terminal":
        return settings.terminal_rate_limit_per_minute
    return settings.rate_limit_per_minute


async def add_hits(session: AsyncSession, subject: str, window: int, hits: int = 1) -> int:
    """Add `hits` to the subject's window in the caller's transaction; the window's new count.

    The subject's older windows go with the first hit of a new one. Other counters share the table
    under subjects of their own (`<purpose>:<id>`), each with its own window length."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = (
        insert(RateLimitWindow)
        .values(subject=subject, window=window, hits=hits)
        .on_conflict_do_update(
            index_elements=["subject", "window"], set_={"hits": RateLimitWindow.hits + hits}
        )
        .returning(RateLimitWindow.hits)
    )
    total = int((await session.execute(statement)).scalar_one())
    if total == hits:
        await session.execute(
            delete(RateLimitWindow).where(RateLimitWindow.subject == subject, RateLimitWindow.window < window)
        )
    return total


async def hits_in(session: AsyncSession, subject: str, window: int) -> int:
    """The subject's count in this window (0 when none was counted)."""
    query = select(RateLimitWindow.hits).where(
        RateLimitWindow.subject == subject, RateLimitWindow.window == window
    )
    return int(await session.scalar(query) or 0)


async def count_hit(database: Database, subject: str, window: int, hits: int = 1) -> int:
    """Add `hits` to the subject's window in a transaction of its own; the window's new count."""
    async with database.transaction() as session:
        if not database.is_sqlite:
            # a counter lost in a crash costs nothing; do not wait for the WAL flush on every request
            await session.execute(text("SET LOCAL synchronous_commit = off"))
        return await add_hits(session, subject, window, hits)


class Leases:
    """Hits this process has leased and not yet spent, per key, for the key's current minute.

    One lease per key is in flight at a time: requests arriving meanwhile wait for it and spend from
    it, instead of each leasing a block of its own (which would count the minute as used up early).
    """

    def __init__(self) -> None:
        # subject -> (window, hits left in this process's lease, the shared total last seen)
        self._left: dict[str, tuple[int, int, int]] = {}
        self._leasing: dict[str, asyncio.Lock] = {}

    def _spend(self, subject: str, window: int) -> bool:
        held_window, left, seen = self._left.get(subject, (window, 0, 0))
        if held_window != window or left <= 0:
            return False
        self._left[subject] = (window, left - 1, seen)
        return True

    async def take(self, database: Database, subject: str, window: int, limit: int) -> bool:
        """Spend one hit of the key's minute; False when the minute is used up."""
        if self._spend(subject, window):
            return True
        if len(self._leasing) > 100_000:
            self._leasing = {k: v for k, v in self._leasing.items() if v.locked()}
        async with self._leasing.setdefault(subject, asyncio.Lock()):
            if self._spend(subject, window):  # the lease this request waited for had hits to spare
                return True
            held_window, _, seen = self._left.get(subject, (window, 0, 0))
            seen = seen if held_window == window else 0
            block = max(1, (limit - seen) // LEASE_FRACTION)
            total = await count_hit(database, subject, window, block)
            usable = max(0, min(total, limit) - (total - block))  # the leased hits within the limit
            if len(self._left) > 100_000:
                self._left.clear()
            self._left[subject] = (window, max(0, usable - 1), total)
            return usable > 0


async def check(
    database: Database, clock: Clock, principal: Principal, settings: Settings, leases: Leases
) -> None:
    """Count this request; raise RateLimitedError once the key is past its limit for this minute."""
    limit = limit_for(principal, settings)
    if limit <= 0:
        return
    now = clock.now().timestamp()
    window = int(now // WINDOW_SECONDS)
    if not await leases.take(database, subject_of(principal), window, limit):
        retry_after = math.ceil((window + 1) * WINDOW_SECONDS - now)
        raise RateLimitedError(
            f"More than {limit} requests a minute with this key; retry in {retry_after} s.",
            retry_after=retry_after,
            limit_per_minute=limit,
        )


class RateLimitMiddleware(ASGIMiddleware):
    """Runs after authentication: requests with a key are counted; public paths are not."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        principal = scope.get("user")
        if isinstance(principal, Principal):
            state: Any = scope["litestar_app"].state
            await check(state.database, state.clock, principal, state.settings, state.rate_leases)
        await next_app(scope, receive, send)
