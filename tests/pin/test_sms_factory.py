"""HUB_SMS_URL picks the gateway by its scheme."""

from __future__ import annotations

import pytest

from pin.sms.console import ConsoleGateway
from pin.sms.factory import gateway_from_url
from pin.sms.http import HttpSmsGateway
from pin.sms.smpp import SmppGateway


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("console://", ConsoleGateway),
        ("smpp://hub:pw@smsc.example:2775?source_addr=CoalHub", SmppGateway),
        ("https://user:pw@sms.example/send", HttpSmsGateway),
        ("http://127.0.0.1:8080/sms", HttpSmsGateway),
    ],
)
async def test_scheme_chooses_the_gateway(url: str, kind: type) -> None:
    """console://, smpp:// and http(s):// each give their gateway, nothing connected yet."""
    gateway = gateway_from_url(url)
    assert isinstance(gateway, kind)
    await gateway.close()


def test_unknown_scheme_is_rejected() -> None:
    """Any other scheme is a configuration error."""
    with pytest.raises(ValueError, match="no SMS gateway"):
        gateway_from_url("carrier-pigeon://loft")
