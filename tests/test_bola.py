"""BOLA, generated from openapi/hub.json: every operation with an id in its path, called by each tenant-1 key
on tenant 2's object, answers 403 or 404 without that object's data and changes nothing.

A new route is covered the day it is exported; a new kind of id fails test_every_id_has_a_tenant_2_object
until the world below has an object of it. Where the contract shares an object across tenants (the
authorization matrix names it as the role's own), that pair is skipped and listed in the skip count.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from hub.db import Database
from hub.scope import Role
from tests import builders
from tests.conftest import bearer, error_of
from tests.test_authz_matrix import (
    MATRIX,
    Allow,
    World,
    _request,
    build_world,
    snapshot,
)

OPENAPI = json.loads((Path(__file__).parent.parent / "openapi" / "hub.json").read_text())
TENANT_ROLES: tuple[Role, ...] = ("concierge", "partner", "venue", "terminal")
# the path parameter → the world's tenant-2 object (tenant 1: program A, partner 1, venue 1, terminal 1)
TENANT_2 = {
    "program_id": "program_b",
    "partner_id": "partner_2",
    "venue_id": "venue_2",
    "member_id": "member_b",
    "offer_id": "offer_b",
    "terminal_id": "terminal_2",
    "connector_id": "connector_2",
    "delivery_id": "delivery_2",
    "referral_id": "referral_b",
    "key_id": "spare_key",
    "scan_id": "scan_2",
    "visit_id": "visit_2",
    "receipt_id": "receipt_2",
}
ID_PARAM = re.compile(r"\{([a-z_]+_id)\}")


def id_operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in OPENAPI["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete") and ID_PARAM.search(path)
    )


def test_every_id_has_a_tenant_2_object() -> None:
    """Every id parameter of the document names a kind of object the BOLA world has for tenant 2."""
    params = {p for _, path in id_operations() for p in ID_PARAM.findall(path)}
    assert params - set(TENANT_2) == set()
    assert len(id_operations()) >= 25


async def _tenant_2_flow(client: httpx.AsyncClient, app: Litestar, world: World) -> None:
    """A scan, a verified visit and a receipt at terminal 2 (tenant 2's guest flow)."""
    till = bearer(world["terminal_2"]["api_key"])
    scan = await client.post("/v1/scans", json={"code": world["member_b"]["card_number"]}, headers=till)
    assert scan.status_code == 201, scan.text
    world["scan_2"] = {"id": scan.json()["scan_id"]}
    text = app.state.flow.gateway.recent()[0].text
    pin = re.search(r"\b(\d{6,10})\b", text)
    assert pin is not None, text
    verified = await client.post(
        f"/v1/scans/{world['scan_2']['id']}/pin", json={"pin": pin.group(1)}, headers=till
    )
    assert verified.status_code == 200, verified.text
    world["visit_2"] = {"id": verified.json()["visit_id"]}
    receipt = {
        "check_id": "BOLA-1",
        "currency": "RUB",
        "closed_at": "2026-11-20T15:00:00+03:00",
        "items": [{"name": "Tea", "category": "food", "quantity": 1, "unit_price_minor": 10_000}],
    }
    closed = await client.post(f"/v1/visits/{world['visit_2']['id']}/receipt", json=receipt, headers=till)
    assert closed.status_code == 201, closed.text
    world["receipt_2"] = {"id": closed.json()["receipt_id"]}


def _shared_by_contract(method: str, path: str, role: Role, target: str) -> bool:
    """The authorization matrix names this tenant-2 object as the role's own on this route."""
    expect = MATRIX.get((method, path), {}).get(role)
    return isinstance(expect, Allow) and expect.own == target


@pytest.mark.parametrize(("method", "path"), id_operations())
async def test_another_tenants_object_is_not_reachable(
    client: httpx.AsyncClient, app: Litestar, db: Database, method: str, path: str
) -> None:
    """Each tenant-1 role gets 403/404 on tenant 2's object, with none of its data, and nothing changes."""
    world, keys = await build_world(client, db)
    world["member_b"] = await builders.member(client, world["program_b"])
    await _tenant_2_flow(client, app, world)
    for role in TENANT_ROLES:
        target = TENANT_2[ID_PARAM.findall(path)[-1]]
        if _shared_by_contract(method, path, role, target):
            continue
        url = ID_PARAM.sub(lambda m: world[TENANT_2[m.group(1)]]["id"], path)
        before = await snapshot(client, world) if method != "GET" else None
        request: dict[str, Any] = _request(method, path, world)
        headers = {**bearer(keys[role]), **request.pop("headers", {})}
        response = await client.request(method, url, headers=headers, **request)
        context = f"{method} {url} as {role}: {response.status_code} {response.text[:300]}"
        assert response.status_code in (403, 404), context
        assert error_of(response)["code"] in ("forbidden", "not_found") or response.status_code == 404, (
            context
        )
        for name in {TENANT_2[p] for p in ID_PARAM.findall(path)}:
            assert world[name]["id"] not in response.text, context
        if before is not None:
            assert await snapshot(client, world) == before, context
