"""Scans that send nothing (an unknown, blocked or ambiguous code) are throttled per terminal.

Such a scan costs the caller nothing, so without a budget a terminal key could try codes until it
finds the ones the hub knows. Misses are counted in the shared rate-limit table (`hub.ratelimit`)
in fixed ten-minute windows; once a terminal is past its budget, every scan of that terminal is
refused with 429 until the window ends, known card or not, so the refusal tells nothing either.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import RateLimitedError
from hub.ratelimit import add_hits, hits_in

MISS_WINDOW_SECONDS = 600


def _subject(terminal_id: uuid.UUID) -> str:
    return f"scan-miss:{terminal_id}"


def _window(now: dt.datetime) -> tuple[int, int]:
    """(the ten-minute window, seconds until it ends)."""
    at = now.timestamp()
    window = int(at // MISS_WINDOW_SECONDS)
    return window, math.ceil((window + 1) * MISS_WINDOW_SECONDS - at)


def _refused(limit: int, retry_after: int) -> RateLimitedError:
    return RateLimitedError(
        f"More than {limit} unrecognised scans at this terminal in 10 minutes; try again in {retry_after} s.",
        retry_after=retry_after,
        limit="unrecognized_scans",
    )


async def check_misses(session: AsyncSession, terminal_id: uuid.UUID, limit: int, now: dt.datetime) -> None:
    """Raise 429 while the terminal is past its budget of scans that sent nothing (0: no budget)."""
    if limit <= 0:
        return
    window, retry_after = _window(now)
    if await hits_in(session, _subject(terminal_id), window) > limit:
        raise _refused(limit, retry_after)


async def count_miss(session: AsyncSession, terminal_id: uuid.UUID, limit: int, now: dt.datetime) -> None:
    """Count one scan that sent nothing; raise 429 when it is one past the budget."""
    if limit <= 0:
        return
    window, retry_after = _window(now)
    if await add_hits(session, _subject(terminal_id), window) > limit:
        raise _refused(limit, retry_after)
