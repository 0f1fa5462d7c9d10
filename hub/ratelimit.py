"""Per-key request rate limits, counted in the database so every API process shares one count.

A fixed one-minute window per key: each authenticated request is one upsert that adds 1 to the
key's row for the current minute and returns the new count (one round trip, bounded cost). Past
the key's limit the answer is 429 with Retry-After set to the seconds left in the minute. The
first request of a new minute deletes the key's older rows, so a key never has more than two.
"""

from __future__ import annotations

import math
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import BigInteger, String, delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import Clock
from hub.config import Settings
from hub.db import Base, Database
from hub.errors import RateLimitedError
from hub.scope import Scope as Principal

WINDOW_SECONDS = 60


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)  # an API key id
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # minutes since the epoch
    hits: Mapped[int]


def subject_of(principal: Principal) -> str:
    return str(principal.key_id) if principal.key_id is not None else "bootstrap-admin"


def limit_for(principal: Principal, settings: Settings) -> int:
    if principal.role == "terminal":
        return settings.terminal_rate_limit_per_minute
    return settings.rate_limit_per_minute


async def count_hit(database: Database, subject: str, window: int) -> int:
    """Add one hit to the subject's window and return the window's count."""
    insert = sqlite_insert if database.is_sqlite else pg_insert
    statement = (
        insert(RateLimitWindow)
        .values(subject=subject, window=window, hits=1)
        .on_conflict_do_update(index_elements=["subject", "window"], set_={"hits": RateLimitWindow.hits + 1})
        .returning(RateLimitWindow.hits)
    )
    async with database.transaction() as session:
        if not database.is_sqlite:
            # a counter lost in a crash costs nothing; do not wait for the WAL flush on every request
            await session.execute(text("SET LOCAL synchronous_commit = off"))
        hits = int((await session.execute(statement)).scalar_one())
        if hits == 1:
            await session.execute(
                delete(RateLimitWindow).where(
                    RateLimitWindow.subject == subject, RateLimitWindow.window < window
                )
            )
    return hits


async def check(database: Database, clock: Clock, principal: Principal, settings: Settings) -> None:
    """Count this request; raise RateLimitedError once the key is past its limit for this minute."""
    limit = limit_for(principal, settings)
    if limit <= 0:
        return
    now = clock.now().timestamp()
    window = int(now // WINDOW_SECONDS)
    hits = await count_hit(database, subject_of(principal), window)
    if hits > limit:
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
            await check(state.database, state.clock, principal, state.settings)
        await next_app(scope, receive, send)
