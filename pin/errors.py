"""PIN and SMS errors."""

from __future__ import annotations

import uuid
from typing import ClassVar

from hub.errors import ConflictError, HubError, InvalidInputError, RateLimitedError, ServiceUnavailableError


class PinInvalidError(InvalidInputError):
    code = "pin_invalid"
    default_message = "Wrong PIN: ask the guest to read it again from the SMS."


class PinLockedError(HubError):
    status_code: ClassVar[int] = 423
    code = "pin_locked"
    default_message = "Too many wrong PINs: this code is locked. Scan the card again to send a new one."


class PinExpiredError(HubError):
    status_code: ClassVar[int] = 410
    code = "pin_expired"
    default_message = "The PIN has expired: send a new one."


class PinAlreadyUsedError(ConflictError):
    code = "pin_already_used"
    default_message = "This PIN was already used: the visit is verified."


class SmsUnavailableError(ServiceUnavailableError):
    code = "sms_unavailable"
    default_message = "The SMS could not be sent right now: try sending the PIN again in a moment."


class SmsBudgetExceededError(RateLimitedError):
    """An SMS budget above the card and the terminal is spent: the venue's, the program's or the hub's."""

    def __init__(
        self, *, scope: str, subject_id: uuid.UUID | None, period: str, limit: int, retry_after: int
    ) -> None:
        self.scope, self.subject_id, self.period, self.limit = scope, subject_id, period, limit
        where = {"venue": "this venue", "program": "this program", "hub": "the hub"}[scope]
        super().__init__(
            f"The SMS budget of {where} ({limit} per {period}) is spent; try again in {retry_after} s.",
            retry_after=retry_after,
            limit=self.budget,
        )

    @property
    def budget(self) -> str:
        """venue_hour, program_day, hub_hour, …"""
        return f"{self.scope}_{self.period}"
