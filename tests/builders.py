"""Builders: make registry objects through the API as the bootstrap admin; they take objects, not ids."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.conftest import ADMIN

Client = httpx.AsyncClient
Obj = dict[str, Any]
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_counter)}"


async def _post(client: Client, path: str, body: Obj) -> Obj:
    response = await client.post(path, json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    result: Obj = response.json()
    return result


async def program(client: Client, *, kind: str = "coalition", owner: Obj | None = None, **fields: Any) -> Obj:
    body: Obj = {
        "name": unique("Program"),
        "kind": kind,
        "currency": "RUB",
        "card_rules": [{"type": "prefix", "value": "77"}],
        "tiers": [
            {"code": "silver", "name": "Silver", "discount_percent": 10},
            {"code": "gold", "name": "Gold", "discount_percent": 15},
        ],
    }
    if owner is not None:
        body["owner_partner_id"] = owner["id"]
    body.update(fields)
    return await _post(client, "/v1/programs", body)


async def partner(client: Client, **fields: Any) -> Obj:
    return await _post(client, "/v1/partners", {"name": unique("Partner"), **fields})


async def venue(client: Client, of: Obj, **fields: Any) -> Obj:
    body = {
        "partner_id": of["id"],
        "name": unique("Venue"),
        "city": "Moscow",
        "district": "Arbat",
        "timezone": "Europe/Moscow",
        **fields,
    }
    return await _post(client, "/v1/venues", body)


async def terminal(client: Client, at: Obj, **fields: Any) -> Obj:
    return await _post(client, f"/v1/venues/{at['id']}/terminals", {"name": unique("Till"), **fields})


async def offer(
    client: Client, of: Obj, *, at_venue: Obj | None = None, at_partner: Obj | None = None, **fields: Any
) -> Obj:
    body: Obj = {"program_id": of["id"], "discount_percent": 10, **fields}
    if at_venue is not None:
        body["venue_id"] = at_venue["id"]
    if at_partner is not None:
        body["partner_id"] = at_partner["id"]
    return await _post(client, "/v1/offers", body)


async def member(client: Client, of: Obj, **fields: Any) -> Obj:
    n = next(_counter)
    body = {"card_number": f"77{n:011d}", "phone": f"+7916{n:07d}", "name": "Guest", **fields}
    return await _post(client, f"/v1/programs/{of['id']}/members", body)


async def key(client: Client, role: str, **scope: Any) -> str:
    created = await _post(client, "/v1/keys", {"role": role, "name": unique("key"), "scope": scope})
    api_key: str = created["api_key"]
    return api_key
