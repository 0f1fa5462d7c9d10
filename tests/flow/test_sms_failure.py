"""When the SMS centre fails: 503 sms_unavailable, the send does not count, the waiter can retry."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from hub.app import create_app, start, stop
from hub.clock import FrozenClock
from hub.config import Settings
from hub.db import Database
from pin.sms.http import HttpSmsGateway
from tests import builders
from tests.conftest import TEST_KEYRING, bearer, error_of


@dataclass
class SmsCentre:
    """A real HTTP SMS gateway on loopback that records messages and fails while told to."""

    url: str = ""
    is_failing: bool = True
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if self.is_failing:
            return web.json_response({"error": "down"}, status=500)
        self.received.append(await request.json())
        return web.json_response({"id": f"m{len(self.received)}"})


@pytest.fixture
async def centre() -> AsyncIterator[SmsCentre]:
    state = SmsCentre()
    application = web.Application()
    application.router.add_post("/send", state.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/send"
    yield state
    await runner.cleanup()


@pytest.fixture
async def http_client(
    settings: Settings, db: Database, clock: FrozenClock, centre: SmsCentre
) -> AsyncIterator[httpx.AsyncClient]:
    gateway = HttpSmsGateway(centre.url)
    app = create_app(settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    await start(app, settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # an ASGI app; the protocols differ in form
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client
    await gateway.close()
    await stop(app)


async def test_gateway_failure_then_retry(http_client: httpx.AsyncClient, centre: SmsCentre) -> None:
    """A failing SMS centre answers 503 with the scan id; failed sends don't count; a resend then works."""
    program = await builders.program(http_client)
    venue = await builders.venue(http_client, await builders.partner(http_client))
    till = bearer((await builders.terminal(http_client, venue))["api_key"])
    member = await builders.member(http_client, program)
    for _ in range(4):  # more than the card's 3 sends per 10 minutes: failures are not counted
        failed = await http_client.post("/v1/scans", json={"code": member["card_number"]}, headers=till)
        assert failed.status_code == 503
        assert error_of(failed)["code"] == "sms_unavailable"
    scan_id = error_of(failed)["details"]["scan_id"]
    centre.is_failing = False
    resent = await http_client.post(f"/v1/scans/{scan_id}/pin/resend", headers=till)
    assert resent.status_code == 202, resent.text
    (message,) = centre.received
    pin = re.search(r"\d{6}", message["text"])
    assert pin is not None
    verified = await http_client.post(f"/v1/scans/{scan_id}/pin", json={"pin": pin.group(0)}, headers=till)
    assert verified.status_code == 200, verified.text
