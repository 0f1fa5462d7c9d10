"""HUB_SMS_URL → the gateway it names."""

from __future__ import annotations

from urllib.parse import urlsplit

from pin.sms.base import SmsGateway
from pin.sms.console import ConsoleGateway
from pin.sms.http import HttpSmsGateway
from pin.sms.smpp import SmppGateway


def gateway_from_url(url: str) -> SmsGateway:
    """`console://`, `smpp://ID:PASSWORD@HOST:PORT?source_addr=…`, or an `http(s)://` endpoint."""
    scheme = urlsplit(url).scheme
    if scheme == "console":
        return ConsoleGateway()
    if scheme == "smpp":
        return SmppGateway.from_url(url)
    if scheme in ("http", "https"):
        return HttpSmsGateway(url)
    raise ValueError(f"no SMS gateway for the scheme {scheme!r}: use console://, smpp://… or http(s)://…")
