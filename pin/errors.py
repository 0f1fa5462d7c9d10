"""PIN and SMS errors."""

from __future__ import annotations

from typing import ClassVar

from hub.errors import ConflictError, HubError, InvalidInputError, ServiceUnavailableError


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
