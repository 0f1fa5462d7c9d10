"""The http(s):// gateway against a real aiohttp.web endpoint on loopback."""

from __future__ import annotations

import base64
import logging
import time

import pytest

from pin.sms import SmsSendError
from pin.sms.http import HttpSmsGateway
from tests.pin.conftest import Gateways, HttpSmsEndpoint

TO = "+79161234567"


async def test_posts_json_and_returns_the_vendor_id(
    http_endpoint: HttpSmsEndpoint, gateways: Gateways
) -> None:
    """A 2xx answer gives the vendor's id; the request is JSON {"to": E.164, "text": …} without auth."""
    gateway = gateways.add(HttpSmsGateway(http_endpoint.url()))

    assert await gateway.send(TO, "Ваш код: 123456") == "vendor-1"

    [request] = http_endpoint.requests
    assert request["body"] == {"to": TO, "text": "Ваш код: 123456"}
    assert request["content_type"] == "application/json"
    assert request["authorization"] is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [({"message_id": "m-7"}, "m-7"), ({"id": 42}, "42"), ({"status": "queued"}, None), (b"OK", None)],
    ids=["message_id", "numeric-id", "no-id", "not-json"],
)
async def test_message_id_from_the_answer(
    http_endpoint: HttpSmsEndpoint, gateways: Gateways, answer: object, expected: str | None
) -> None:
    """The id comes from "id" or "message_id"; an answer without one gets a generated id."""
    http_endpoint.answer = answer
    gateway = gateways.add(HttpSmsGateway(http_endpoint.url()))

    message_id = await gateway.send(TO, "PIN 123456")

    if expected is None:
        assert message_id.startswith("http-")
    else:
        assert message_id == expected


@pytest.mark.parametrize("status", [500, 503, 400, 401, 302])
async def test_non_2xx_is_a_send_error(
    http_endpoint: HttpSmsEndpoint, gateways: Gateways, status: int
) -> None:
    """Any answer outside 2xx fails the send with SmsSendError naming the status."""
    http_endpoint.status = status
    http_endpoint.answer = {"error": "nope"}
    gateway = gateways.add(HttpSmsGateway(http_endpoint.url()))

    with pytest.raises(SmsSendError, match=f"HTTP {status}"):
        await gateway.send(TO, "PIN 123456")


async def test_slow_gateway_times_out(http_endpoint: HttpSmsEndpoint, gateways: Gateways) -> None:
    """An endpoint slower than the timeout fails the send with SmsSendError at the timeout."""
    http_endpoint.delay = 5.0
    gateway = gateways.add(HttpSmsGateway(http_endpoint.url(), timeout_seconds=0.3))
    started = time.monotonic()

    with pytest.raises(SmsSendError, match="unreachable"):
        await gateway.send(TO, "PIN 123456")

    assert time.monotonic() - started < 2


async def test_unreachable_gateway_is_a_send_error(
    http_endpoint: HttpSmsEndpoint, gateways: Gateways
) -> None:
    """Nothing listening on the port fails the send with SmsSendError."""
    url = http_endpoint.url()
    await http_endpoint.stop()
    gateway = gateways.add(HttpSmsGateway(url, timeout_seconds=2))

    with pytest.raises(SmsSendError, match="unreachable"):
        await gateway.send(TO, "PIN 123456")


async def test_userinfo_goes_as_basic_auth_and_is_never_logged(
    http_endpoint: HttpSmsEndpoint, gateways: Gateways, caplog: pytest.LogCaptureFixture
) -> None:
    """URL credentials (percent-decoded) arrive as HTTP basic auth, not in the URL, and no log shows them."""
    caplog.set_level(logging.DEBUG)
    gateway = gateways.add(HttpSmsGateway(http_endpoint.url("hub:p%40ss%3Aw0rd")))
    await gateway.send(TO, "PIN 123456")
    http_endpoint.status = 500
    with pytest.raises(SmsSendError) as raised:
        await gateway.send(TO, "PIN 123456")

    [first, _] = http_endpoint.requests
    assert first["authorization"] == "Basic " + base64.b64encode(b"hub:p@ss:w0rd").decode()
    assert "p%40ss" not in first["url"]
    assert "hub" not in first["url"]
    for shown in (str(raised.value), repr(gateway), caplog.text):
        assert "p@ss" not in shown
        assert "p%40ss" not in shown


def test_non_http_url_is_rejected() -> None:
    """Only http:// and https:// URLs make an HTTP gateway."""
    with pytest.raises(ValueError, match="HTTP SMS gateway"):
        HttpSmsGateway("ftp://sms.example/send")
