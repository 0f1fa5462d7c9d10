"""Pure rules of a referral's attribution window: when it opens and closes, what status reads, which wins."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# A visit verified from 12 hours before to 24 hours after the expected time fulfils the referral
# (the guest came early, or the booking was for "tonight" and they came the next day).
WINDOW_BEFORE = dt.timedelta(hours=12)
WINDOW_AFTER = dt.timedelta(hours=24)

ShownStatus = Literal["booked", "visited", "expired", "cancelled"]


@dataclass(frozen=True)
class Window:
    opens_at: dt.datetime
    closes_at: dt.datetime

    def contains(self, at: dt.datetime) -> bool:
        return self.opens_at <= at <= self.closes_at


def window_of(expected_at: dt.datetime) -> Window:
    return Window(opens_at=expected_at - WINDOW_BEFORE, closes_at=expected_at + WINDOW_AFTER)


def shown_status(stored: str, closes_at: dt.datetime, now: dt.datetime) -> ShownStatus:
    """Expiry is computed on read: a booked referral whose window has closed reads as expired."""
    if stored == "booked":
        return "expired" if closes_at < now else "booked"
    if stored == "visited":
        return "visited"
    return "cancelled"


@dataclass(frozen=True)
class Candidate:
    referral_id: uuid.UUID
    expected_at: dt.datetime
    window: Window


def choose(candidates: Iterable[Candidate], verified_at: dt.datetime) -> uuid.UUID | None:
    """The booked referral a visit fulfils: its window holds the visit; the closest expected time wins,
    then the earlier booking (ids are time-ordered)."""
    inside = [c for c in candidates if c.window.contains(verified_at)]
    if not inside:
        return None
    best = min(inside, key=lambda c: (abs(c.expected_at - verified_at), c.referral_id))
    return best.referral_id
