"""Failed authentication is throttled per client address and per key prefix (API keys and /app/login).

Failures are counted in the shared rate-limit table (`hub.ratelimit`), one-minute windows, so every
API process adds to one count. Past the limit the failing attempt is answered 429 with Retry-After
(the seconds left in the minute), and this process refuses further attempts from that address or
with that prefix without looking the key up, until the minute ends; a key this process already
knows keeps working (a guessed prefix cannot lock a real key out). The first refusal of each window
is audited (`auth.throttled`), not every one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from hub import audit
from hub.db import Database
from hub.errors import RateLimitedError
from hub.ratelimit import WINDOW_SECONDS, add_hits


@dataclass(frozen=True)
class Attempt:
    """Who tried: the client address (as resolved through HUB_TRUSTED_PROXIES) and the key's prefix."""

    address: str
    prefix: str
    via: str  # "api" or "login"

    def subjects(self) -> dict[str, str]:
        return {"address": f"authfail:ip:{self.address}"[:64], "key_prefix": f"authfail:key:{self.prefix}"}


def _window(now: dt.datetime) -> tuple[int, int]:
    at = now.timestamp()
    window = int(at // WINDOW_SECONDS)
    return window, math.ceil((window + 1) * WINDOW_SECONDS - at)


def _refused(limit: int, retry_after: int) -> RateLimitedError:
    return RateLimitedError(
        f"More than {limit} failed sign-ins a minute from here or with this key; retry in {retry_after} s.",
        retry_after=retry_after,
        limit="auth_failures",
    )


class AuthFailures:
    """The throttle of one process: the shared counts, and the subjects it knows are over the limit."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._blocked: dict[str, int] = {}  # subject -> the window it is blocked in

    def check(self, attempt: Attempt, now: dt.datetime) -> None:
        """Raise 429 while this attempt's address or prefix is known to be over the limit."""
        if self.limit <= 0 or not self._blocked:
            return
        window, retry_after = _window(now)
        if any(self._blocked.get(s) == window for s in attempt.subjects().values()):
            raise _refused(self.limit, retry_after)

    async def failed(self, database: Database, attempt: Attempt, now: dt.datetime) -> None:
        """Count a failure; raise 429 once the address or the prefix is past the limit this minute."""
        if self.limit <= 0:
            return
        window, retry_after = _window(now)
        over: list[tuple[str, str]] = []
        async with database.transaction() as session:
            for kind, subject in attempt.subjects().items():
                count = await add_hits(session, subject, window)
                if count > self.limit:
                    over.append((kind, subject))
                if count == self.limit + 1:  # the first refusal of this window
                    details = {"by": kind, "limit": self.limit, "via": attempt.via, **_named(attempt, kind)}
                    await audit.record(
                        session,
                        None,
                        "auth.throttled",
                        kind,
                        None,
                        at=now,
                        details=details,
                        actor_role="anonymous",
                    )
        if not over:
            return
        if len(self._blocked) > 100_000:
            self._blocked = {s: w for s, w in self._blocked.items() if w == window}
        self._blocked.update((subject, window) for _, subject in over)
        raise _refused(self.limit, retry_after)


def _named(attempt: Attempt, kind: str) -> dict[str, str]:
    return {"address": attempt.address} if kind == "address" else {"key_prefix": attempt.prefix}
