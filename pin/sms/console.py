"""Development gateway: the SMS goes to the log and to an in-memory inbox (the /dev/sms page)."""

from __future__ import annotations

import itertools
import logging
from collections import deque

from hub.clock import Clock, SystemClock
from pin.sms.base import SmsMessage

_log = logging.getLogger("hub.sms")

INBOX_SIZE = 100


class ConsoleGateway:
    """Logs each SMS at WARNING (so a developer sees the PIN) and keeps the last 100; never fails."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._inbox: deque[SmsMessage] = deque(maxlen=INBOX_SIZE)
        self._numbers = itertools.count(1)

    async def send(self, to: str, text: str) -> str:
        message_id = f"console-{next(self._numbers)}"
        self._inbox.append(SmsMessage(to=to, text=text, message_id=message_id, sent_at=self._clock.now()))
        _log.warning("SMS to %s: %s", to, text)
        return message_id

    def recent(self) -> list[SmsMessage]:
        """The kept messages, newest first."""
        return list(reversed(self._inbox))

    async def close(self) -> None:
        return None
