"""The only place that reads the wall clock; tests pass a FrozenClock instead."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

UTC = dt.UTC


# runtime_checkable: Litestar's signature model checks injected dependencies with isinstance
@runtime_checkable
class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at += dt.timedelta(**delta)

    def set(self, at: dt.datetime) -> None:
        self._at = at


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)
