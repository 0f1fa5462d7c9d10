"""The smpp:// gateway against a real SMPP 3.4 server on loopback (npm `smpp`, server half)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from pin.sms import SmsSendError
from pin.sms.smpp import SmppGateway, data_coding_for, parse_smpp_url
from tests.pin.conftest import PASSWORD, SYSTEM_ID, Gateways, SmppServer

TO = "+79161234567"
GSM_DEFAULT = 0x00
UCS2 = 0x08
UDH_INDICATOR = 0x40
TIMEOUT = 2.0


def gateway_for(
    server: SmppServer, gateways: Gateways, *, password: str = PASSWORD, **query: str | float
) -> SmppGateway:
    query.setdefault("timeout_seconds", TIMEOUT)
    return gateways.add(SmppGateway.from_url(server.url(password=password, **query)))


async def test_latin_text_goes_in_the_default_alphabet(smpp_server: SmppServer, gateways: Gateways) -> None:
    """A GSM-7 text is submitted once with data_coding 0, to the E.164 number, from the configured sender."""
    gateway = gateway_for(smpp_server, gateways)

    message_id = await gateway.send(TO, "Your PIN is 123456")

    [submitted] = await smpp_server.wait_for("submit_sm")
    assert message_id == submitted["message_id"]
    assert submitted["system_id"] == SYSTEM_ID
    assert submitted["data_coding"] == GSM_DEFAULT
    assert submitted["short_message"] == "Your PIN is 123456"
    assert (submitted["destination_addr"], submitted["dest_addr_ton"]) == ("79161234567", 1)
    assert (submitted["source_addr"], submitted["source_addr_ton"]) == ("CoalHub", 5)
    assert [bind["command"] for bind in smpp_server.events("bind")] == ["bind_transceiver"]


async def test_cyrillic_text_goes_as_ucs2(smpp_server: SmppServer, gateways: Gateways) -> None:
    """A text outside GSM-7 is submitted with data_coding 8 and decodes back to the same text."""
    gateway = gateway_for(smpp_server, gateways)

    await gateway.send(TO, "Ваш код: 123456")

    [submitted] = await smpp_server.wait_for("submit_sm")
    assert submitted["data_coding"] == UCS2
    assert submitted["short_message"] == "Ваш код: 123456"


@pytest.mark.parametrize(
    ("text", "data_coding", "parts"),
    [("PIN 123456. " * 20, GSM_DEFAULT, 2), ("Ваш код 123456. " * 10, UCS2, 3)],
    ids=["gsm-240-chars", "ucs2-160-chars"],
)
async def test_long_text_is_concatenated_with_a_udh(
    smpp_server: SmppServer, gateways: Gateways, text: str, data_coding: int, parts: int
) -> None:
    """A text longer than one SMS goes as UDH-concatenated parts that join back to the text."""
    gateway = gateway_for(smpp_server, gateways)

    message_id = await gateway.send(TO, text)

    submitted = await smpp_server.wait_for("submit_sm", count=parts)
    assert {part["esm_class"] & UDH_INDICATOR for part in submitted} == {UDH_INDICATOR}
    assert {part["data_coding"] for part in submitted} == {data_coding}
    assert "".join(part["short_message"] for part in submitted) == text
    assert [part["udh"][-4:] for part in submitted] == [f"{parts:02x}{n:02x}" for n in range(1, parts + 1)]
    assert message_id == submitted[-1]["message_id"]


async def test_wrong_password_is_refused_at_once(smpp_server: SmppServer, gateways: Gateways) -> None:
    """A refused bind fails the send with SmsSendError without waiting for the send timeout."""
    gateway = gateway_for(smpp_server, gateways, password="wrong", timeout_seconds=10)
    started = time.monotonic()

    with pytest.raises(SmsSendError, match="refused the bind"):
        await gateway.send(TO, "Your PIN is 123456")

    assert time.monotonic() - started < 2
    assert [bind["ok"] for bind in smpp_server.events("bind")] == [False]
    assert smpp_server.events("submit_sm") == []


async def test_refused_bind_is_not_retried_until_the_next_send(
    smpp_server: SmppServer, gateways: Gateways
) -> None:
    """After a refused bind the gateway stays quiet; the next send binds again and succeeds once allowed."""
    gateway = gateway_for(smpp_server, gateways)
    await smpp_server.command("refuse")
    with pytest.raises(SmsSendError):
        await gateway.send(TO, "first")
    await asyncio.sleep(0.5)
    assert smpp_server.count("bind") == 1

    await smpp_server.command("accept")
    await gateway.send(TO, "second")

    assert [bind["ok"] for bind in smpp_server.events("bind")] == [False, True]


async def test_stopped_server_fails_within_the_timeout(smpp_server: SmppServer, gateways: Gateways) -> None:
    """With the SMS centre gone, a send raises SmsSendError once the send timeout is over, not later."""
    gateway = gateway_for(smpp_server, gateways, timeout_seconds=1)
    await gateway.send(TO, "bound")
    await smpp_server.stop()
    started = time.monotonic()

    with pytest.raises(SmsSendError, match="within 1 s"):
        await gateway.send(TO, "Your PIN is 123456")

    assert 0.9 < time.monotonic() - started < 2


async def test_restarted_server_takes_the_next_send(smpp_server: SmppServer, gateways: Gateways) -> None:
    """After the SMS centre went away and came back, the next send rebinds and is delivered."""
    gateway = gateway_for(smpp_server, gateways)
    await gateway.send(TO, "before")
    await smpp_server.stop()
    await smpp_server.start()

    await gateway.send(TO, "after")

    assert [m["short_message"] for m in smpp_server.events("submit_sm")] == ["before", "after"]
    assert [bind["ok"] for bind in smpp_server.events("bind")] == [True, True]


async def test_send_waits_for_a_server_back_within_the_timeout(
    smpp_server: SmppServer, gateways: Gateways
) -> None:
    """A send made while the SMS centre is down is delivered once it is back within the send timeout."""
    gateway = gateway_for(smpp_server, gateways, timeout_seconds=5)
    await gateway.send(TO, "before")
    await smpp_server.stop()

    sending = asyncio.create_task(gateway.send(TO, "during"))
    await asyncio.sleep(0.5)  # the gateway is retrying against a closed port meanwhile
    assert not sending.done()
    await smpp_server.start()

    assert await sending
    assert [m["short_message"] for m in smpp_server.events("submit_sm")] == ["before", "during"]


async def test_dropped_connection_rebinds(smpp_server: SmppServer, gateways: Gateways) -> None:
    """When the SMS centre drops the connection, the gateway binds again and the next send goes through."""
    gateway = gateway_for(smpp_server, gateways)
    await gateway.send(TO, "before")
    await smpp_server.command("drop")

    await gateway.send(TO, "after")

    assert smpp_server.count("bind") == 2
    assert [m["short_message"] for m in smpp_server.events("submit_sm")] == ["before", "after"]


async def test_unanswered_submit_times_out(smpp_server: SmppServer, gateways: Gateways) -> None:
    """A submit_sm the SMS centre never answers ends in SmsSendError at the send timeout."""
    gateway = gateway_for(smpp_server, gateways, timeout_seconds=1)
    await smpp_server.command("mute")

    with pytest.raises(SmsSendError, match="did not accept"):
        await gateway.send(TO, "Your PIN is 123456")

    assert smpp_server.count("submit_sm") == 1


async def test_enquire_link_keeps_an_idle_bind_alive(smpp_server: SmppServer, gateways: Gateways) -> None:
    """An idle bind sends enquire_link every enquire_link_seconds and stays bound."""
    gateway = gateway_for(smpp_server, gateways, enquire_link_seconds=0.2)
    await gateway.send(TO, "bound")

    await smpp_server.wait_for("enquire_link", count=2, within=3)

    assert smpp_server.count("bind") == 1
    assert smpp_server.events("enquire_link")[0]["system_id"] == SYSTEM_ID


async def test_close_unbinds(smpp_server: SmppServer, gateways: Gateways) -> None:
    """Closing the gateway unbinds from the SMS centre; a send after close fails."""
    gateway = gateway_for(smpp_server, gateways)
    await gateway.send(TO, "bound")

    await gateway.close()

    await smpp_server.wait_for("unbind")
    with pytest.raises(SmsSendError, match="closed"):
        await gateway.send(TO, "late")


async def test_message_text_never_reaches_the_log(
    smpp_server: SmppServer, gateways: Gateways, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever the SMPP session logs, a PIN text is not in it."""
    gateway = gateway_for(smpp_server, gateways, timeout_seconds=1)
    caplog.set_level(logging.DEBUG)
    await gateway.send(TO, "Your PIN is 918273")
    await smpp_server.stop()
    with pytest.raises(SmsSendError):
        await gateway.send(TO, "Your PIN is 564738")

    assert "918273" not in caplog.text
    assert "564738" not in caplog.text
    assert PASSWORD not in caplog.text


def test_url_gives_the_bind_and_the_options() -> None:
    """The URL carries the credentials (percent-decoded), the sender and the timings; port 2775 by default."""
    config = parse_smpp_url(
        "smpp://hub%2B1:p%40ss@smsc.example:2776?source_addr=CoalHub&system_type=OTP"
        "&enquire_link_seconds=15&timeout_seconds=3.5"
    )
    assert (config.system_id, config.password, config.host, config.port) == (
        "hub+1",
        "p@ss",
        "smsc.example",
        2776,
    )
    assert (config.source_addr, config.system_type) == ("CoalHub", "OTP")
    assert (config.enquire_link_seconds, config.timeout_seconds) == (15.0, 3.5)
    assert parse_smpp_url("smpp://hub:pw@smsc.example").port == 2775
    assert "p@ss" not in repr(config)


@pytest.mark.parametrize(
    "url",
    [
        "smpp://smsc.example:2775",
        "http://hub:pw@smsc.example",
        "smpp://hub:toolongpassword@smsc.example",
        "smpp://hub:pw@smsc.example?timeout_seconds=0",
        "smpp://hub:pw@smsc.example?enquire_link_seconds=soon",
    ],
)
def test_bad_url_is_rejected(url: str) -> None:
    """A URL without credentials, with another scheme, or beyond SMPP's limits is refused at start-up."""
    with pytest.raises(ValueError, match="SMPP"):
        parse_smpp_url(url)


@pytest.mark.parametrize(
    ("text", "coding"),
    [
        ("Your PIN is 123456", "gsm0338"),
        ("Code: 1234 @ £5 €", "gsm0338"),
        ("Код 1234", "ucs2"),
        ("PIN 🙂", "ucs2"),
    ],
)
def test_alphabet_choice(text: str, coding: str) -> None:
    """GSM 03.38 (with its extension table) when the text fits, UCS-2 otherwise."""
    assert data_coding_for(text) == coding
