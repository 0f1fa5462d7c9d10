"""HTTP answers and aiohttp failures → the delivery error tree (shared by every destination)."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging

import aiohttp

from connectors.errors import (
    DeliveryError,
    GoneError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from hub.http import RedirectRefusedError, is_egress_refusal

log = logging.getLogger("hub.connectors")
DEFAULT_RATE_LIMIT_WAIT = 1.0
MAX_RETRY_AFTER = 24 * 3600.0
# a connection that never opened: refused, dropped (connect timeout), no route, no such name
CONNECT_FAILURES = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def _connect_detail(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{type(exc).__name__}: {exc.os_error!r}"
    return f"{type(exc).__name__}: {exc}"


def unreachable(what: str, exc: BaseException) -> DeliveryError:
    """A connection that never opened, recorded as one class whatever the reason: the attempt log a venue
    reads must not tell a refused port from a dropped one (a map of someone's network). The reason is
    logged, for the hub's operators."""
    log.warning("%s unreachable: %s", what, _connect_detail(exc))
    if is_egress_refusal(exc):
        return PermanentError(
            f"unreachable: {what} (refused by the egress guard: not a public address; see HUB_EGRESS_ALLOW)"
        )
    return TransientError(f"unreachable: {what}")


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(MAX_RETRY_AFTER, float(value))
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return min(MAX_RETRY_AFTER, max(0.0, (at - now).total_seconds()))


def error_for_status(status: int, reason: str, retry_after: float | None) -> DeliveryError | None:
    """None for a success; otherwise what to do about this answer."""
    if 200 <= status < 300:
        return None
    message = f"HTTP {status} {reason}".strip()
    if status == 429:
        return RateLimitError(message, status_code=status, retry_after=retry_after or DEFAULT_RATE_LIMIT_WAIT)
    if status == 410:
        return GoneError(message, status_code=status)
    if status == 408 or status >= 500:
        return TransientError(message, status_code=status, retry_after=retry_after)
    return PermanentError(message, status_code=status)


def error_for_exception(exc: BaseException) -> DeliveryError:
    """A network failure: transient before the request went out; after it, the outcome is unknown."""
    if isinstance(exc, RedirectRefusedError):
        return PermanentError(f"refused by the egress guard: {exc}")
    if isinstance(exc, CONNECT_FAILURES) or is_egress_refusal(exc):
        return unreachable("the destination", exc)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, TimeoutError)):
        return OutcomeUnknownError(f"no complete answer: {type(exc).__name__}")
    if isinstance(exc, aiohttp.InvalidURL):
        return PermanentError(f"invalid URL: {exc}")
    return TransientError(f"{type(exc).__name__}: {exc}")
