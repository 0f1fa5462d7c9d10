"""The console:// gateway: the PIN goes to the log and to the dev inbox."""

from __future__ import annotations

import logging

import pytest

from hub.clock import FrozenClock
from pin.sms import SmsMessage
from pin.sms.console import INBOX_SIZE, ConsoleGateway


async def test_logs_the_text_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Each SMS is logged on hub.sms at WARNING as "SMS to <to>: <text>"."""
    gateway = ConsoleGateway()
    with caplog.at_level(logging.WARNING, logger="hub.sms"):
        await gateway.send("+79161234567", "Ваш код: 123456")

    [record] = [r for r in caplog.records if r.name == "hub.sms"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "SMS to +79161234567: Ваш код: 123456"


async def test_recent_keeps_the_last_messages_newest_first(clock: FrozenClock) -> None:
    """The inbox holds the last 100 messages, newest first, each with its id and the clock's time."""
    gateway = ConsoleGateway(clock)
    ids = [await gateway.send(f"+7916000{n:04d}", f"PIN {n:06d}") for n in range(INBOX_SIZE + 5)]

    recent = gateway.recent()

    assert len(recent) == INBOX_SIZE
    assert recent[0] == SmsMessage(
        to="+79160000104", text="PIN 000104", message_id=ids[-1], sent_at=clock.now()
    )
    assert recent[-1].text == "PIN 000005"
    assert len(set(ids)) == len(ids)


async def test_never_fails_and_closes_quietly() -> None:
    """Sending works before and after close: the console cannot be down."""
    gateway = ConsoleGateway()
    await gateway.close()
    assert await gateway.send("+79161234567", "PIN 123456")
