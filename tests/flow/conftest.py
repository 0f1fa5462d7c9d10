"""A small coalition to run the guest flow in: a program, a partner with a venue and a till, a member."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar

from hub.clock import FrozenClock
from pin.sms.console import ConsoleGateway
from tests import builders
from tests.conftest import bearer

Obj = dict[str, Any]


@dataclass
class World:
    program: Obj
    partner: Obj
    venue: Obj
    terminal_key: str
    member: Obj
    offer: Obj
    client: httpx.AsyncClient
    gateway: ConsoleGateway
    clock: FrozenClock

    @contextlib.contextmanager
    def at(self, moment: str) -> Iterator[None]:
        """The hub's clock at this RFC 3339 moment meanwhile (a visit and its check back then)."""
        now = self.clock.now()
        self.clock.set(dt.datetime.fromisoformat(moment))
        try:
            yield
        finally:
            self.clock.set(now)

    @property
    def till(self) -> dict[str, str]:
        return bearer(self.terminal_key)

    def last_pin(self) -> str:
        message = self.gateway.recent()[0]
        found = re.search(r"\b(\d{6,10})\b", message.text)
        assert found, message.text
        return found.group(1)

    async def scan(self, code: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(
            "/v1/scans", json={"code": code or self.member["card_number"]}, headers=headers or self.till
        )

    async def verified_visit(self) -> str:
        return await self.verified_visit_of(self.member["card_number"])

    async def verified_visit_of(self, card_number: str) -> str:
        """A coalition visit of this card at the world's till, verified by the PIN it was sent."""
        scan = await self.scan(card_number)
        assert scan.status_code == 201, scan.text
        answer = await self.client.post(
            f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": self.last_pin()}, headers=self.till
        )
        assert answer.status_code == 200, answer.text
        visit_id: str = answer.json()["visit_id"]
        return visit_id


@pytest.fixture
async def world(client: httpx.AsyncClient, app: Litestar) -> World:
    program = await builders.program(
        client, card_rules=[{"type": "prefix", "value": "77"}, {"type": "phone"}]
    )
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner)
    terminal = await builders.terminal(client, venue)
    member = await builders.member(client, program, tier_code="silver", name="Anna Petrova")
    offer = await builders.offer(
        client, program, at_partner=partner, discount_percent=10, excluded_categories=["alcohol"]
    )
    return World(
        program=program,
        partner=partner,
        venue=venue,
        terminal_key=terminal["api_key"],
        member=member,
        offer=offer,
        client=client,
        gateway=app.state.flow.gateway,
        clock=app.state.clock,
    )


def receipt_body(check_id: str = "CHK-1", **fields: Any) -> Obj:
    return {
        "check_id": check_id,
        "currency": "RUB",
        "closed_at": "2026-11-20T15:00:00+03:00",  # the frozen clock's now, in Moscow
        "items": [
            {"name": "Ribeye", "category": "food", "quantity": 1, "unit_price_minor": 250_000},
            {"name": "Barolo", "category": "alcohol", "quantity": 2, "unit_price_minor": 90_000},
        ],
        "staff": "Oleg",
        **fields,
    }
