"""The guest-flow world plus a concierge: a key for its program, helpers to book and to visit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.clock import FrozenClock
from tests import builders
from tests.conftest import bearer
from tests.flow.conftest import World, world  # noqa: F401  # the fixture, shared with the flow tests

Obj = dict[str, Any]


def at(moment: dt.datetime) -> str:
    return moment.isoformat()


@dataclass
class Desk:
    """A concierge's desk: the flow world, the concierge key of its program, the frozen clock."""

    world: World
    key: str
    clock: FrozenClock

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.key)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.world.client

    async def book(self, hours_from_now: float = 2, **fields: Any) -> httpx.Response:
        body: Obj = {
            "program_id": self.world.program["id"],
            "member_id": self.world.member["id"],
            "venue_id": self.world.venue["id"],
            "expected_at": at(self.clock.now() + dt.timedelta(hours=hours_from_now)),
            **fields,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return await self.client.post("/v1/referrals", json=body, headers=self.headers)

    async def booked(self, hours_from_now: float = 2, **fields: Any) -> Obj:
        response = await self.book(hours_from_now, **fields)
        assert response.status_code == 201, response.text
        referral: Obj = response.json()
        return referral

    async def read(self, referral: Obj) -> Obj:
        response = await self.client.get(f"/v1/referrals/{referral['id']}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: Obj = response.json()
        return body

    async def listed(self, **params: Any) -> list[Obj]:
        response = await self.client.get("/v1/referrals", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        items: list[Obj] = response.json()["items"]
        return items

    async def visit(self, till: dict[str, str] | None = None) -> str:
        """A coalition visit verified through the real flow (scan → SMS PIN) at the till given."""
        till = till or self.world.till
        scan = await self.client.post(
            "/v1/scans", json={"code": self.world.member["card_number"]}, headers=till
        )
        assert scan.status_code == 201, scan.text
        answer = await self.client.post(
            f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": self.world.last_pin()}, headers=till
        )
        assert answer.status_code == 200, answer.text
        visit_id: str = answer.json()["visit_id"]
        return visit_id


@pytest.fixture
async def desk(world: World, clock: FrozenClock) -> Desk:  # noqa: F811  # the imported fixture
    key = await builders.key(world.client, "concierge", program_ids=[world.program["id"]])
    return Desk(world=world, key=key, clock=clock)
