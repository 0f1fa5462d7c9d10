"""Pure: the outcome label of a scan or a PIN check, for /metrics and the audit log."""

from __future__ import annotations

from hub.errors import RateLimitedError
from hub.flow.errors import CardAmbiguousError, CardNotRecognizedError, MemberBlockedError
from pin.errors import (
    PinAlreadyUsedError,
    PinExpiredError,
    PinInvalidError,
    PinLockedError,
    SmsUnavailableError,
)

_SCAN_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (CardNotRecognizedError, "not_recognized"),
    (CardAmbiguousError, "ambiguous"),
    (MemberBlockedError, "blocked"),
    (RateLimitedError, "rate_limited"),
    (SmsUnavailableError, "pin_required"),  # the PIN was needed; the failed SMS is counted by gateway
)
_PIN_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (PinInvalidError, "invalid"),
    (PinLockedError, "locked"),
    (PinExpiredError, "expired"),
    (PinAlreadyUsedError, "used"),
)


def scan_outcome(error: Exception) -> str:
    """not_recognized, ambiguous, blocked, rate_limited (pin_required for a failed SMS), else error."""
    return next((name for kind, name in _SCAN_ERRORS if isinstance(error, kind)), "error")


def pin_outcome(error: Exception) -> str:
    """invalid, locked, expired, used; error for anything else."""
    return next((name for kind, name in _PIN_ERRORS if isinstance(error, kind)), "error")
