"""The SMS gateway Protocol that the PIN service consumes."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import msgspec


class SmsSendError(Exception):
    """The gateway did not accept the message (down, refused, timed out): the PIN counts as not sent."""


class SmsMessage(msgspec.Struct, frozen=True):
    to: str  # E.164
    text: str
    message_id: str
    sent_at: dt.datetime


class SmsGateway(Protocol):
    async def send(self, to: str, text: str) -> str:
        """Hand one message to the SMS centre; returns its message id, raises SmsSendError."""
        ...

    async def close(self) -> None: ...
