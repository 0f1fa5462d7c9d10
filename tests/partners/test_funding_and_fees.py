"""Offer funding (who pays for the discount) and program fees over HTTP: accepted, derived, bounded, read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import builders
from tests.conftest import ADMIN, error_of

Obj = dict[str, Any]


async def _offer(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    program = await builders.program(client)
    return await client.post(
        "/v1/offers", json={"program_id": program["id"], "discount_percent": 10, **fields}, headers=ADMIN
    )


@pytest.mark.parametrize(
    ("fields", "funding"),
    [
        ({}, {"coalition_percent": 0.0, "venue_percent": 100.0}),
        (
            {"funding": {"coalition_percent": 30, "venue_percent": 70}},
            {"coalition_percent": 30.0, "venue_percent": 70.0},
        ),
        ({"funding": {"coalition_percent": 12.5}}, {"coalition_percent": 12.5, "venue_percent": 87.5}),
        ({"funding": {"venue_percent": 80}}, {"coalition_percent": 20.0, "venue_percent": 80.0}),
        ({"coalition_funded_percent": 40}, {"coalition_percent": 40.0, "venue_percent": 60.0}),
        (
            {"funding": {"coalition_percent": 40}, "coalition_funded_percent": 40},
            {"coalition_percent": 40.0, "venue_percent": 60.0},
        ),
    ],
)
async def test_offer_funding_is_accepted_and_read(
    client: httpx.AsyncClient, fields: Obj, funding: Obj
) -> None:
    """funding defaults to 0/100; one side gives the other; the older coalition_funded_percent still works."""
    response = await _offer(client, **fields)
    assert response.status_code == 201, response.text
    assert response.json()["funding"] == funding
    assert response.json()["coalition_funded_percent"] == funding["coalition_percent"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"funding": {"coalition_percent": 30, "venue_percent": 60}}, "funding"),
        ({"funding": {}}, "funding"),
        ({"funding": {"coalition_percent": 101}}, "funding.coalition_percent"),
        ({"funding": {"coalition_percent": 30}, "coalition_funded_percent": 50}, "coalition_funded_percent"),
    ],
)
async def test_bad_funding_is_refused(client: httpx.AsyncClient, fields: Obj, field: str) -> None:
    """Shares not summing to 100, an empty funding, out-of-range or disagreeing shares: 422, no offer."""
    response = await _offer(client, **fields)
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")
    assert error_of(response)["details"]["field"] == field
    offers = await client.get("/v1/offers", headers=ADMIN)
    assert offers.json()["items"] == []


async def test_offer_funding_changes(client: httpx.AsyncClient) -> None:
    """PATCH funding changes the split for visits verified from then on."""
    offer = (await _offer(client)).json()
    changed = await client.patch(
        f"/v1/offers/{offer['id']}", json={"funding": {"coalition_percent": 55}}, headers=ADMIN
    )
    assert changed.json()["funding"] == {"coalition_percent": 55.0, "venue_percent": 45.0}
    legacy = await client.patch(
        f"/v1/offers/{offer['id']}", json={"coalition_funded_percent": 5}, headers=ADMIN
    )
    assert legacy.json()["funding"] == {"coalition_percent": 5.0, "venue_percent": 95.0}
    untouched = await client.patch(f"/v1/offers/{offer['id']}", json={"discount_percent": 11}, headers=ADMIN)
    assert untouched.json()["funding"]["coalition_percent"] == 5.0


async def test_program_fees_are_set_read_and_changed(client: httpx.AsyncClient) -> None:
    """fees default to none, are set on create, replaced on update, and read back as in force now."""
    plain = await builders.program(client)
    assert plain["fees"] == {"per_visit_minor": None, "percent_of_check": None}
    charged = await builders.program(client, fees={"per_visit_minor": 5_000, "percent_of_check": 2.5})
    assert charged["fees"] == {"per_visit_minor": 5_000, "percent_of_check": 2.5}
    changed = await client.patch(
        f"/v1/programs/{charged['id']}", json={"fees": {"percent_of_check": 1}}, headers=ADMIN
    )
    assert changed.json()["fees"] == {"per_visit_minor": None, "percent_of_check": 1.0}
    read = await client.get(f"/v1/programs/{charged['id']}", headers=ADMIN)
    assert read.json()["fees"] == changed.json()["fees"]


@pytest.mark.parametrize(
    "fees",
    [
        {"per_visit_minor": -1},
        {"per_visit_minor": 10**9 + 1},
        {"percent_of_check": 50.5},
        {"percent_of_check": -0.1},
        {"per_visit": 100},
    ],
)
async def test_fees_out_of_bounds_are_refused(client: httpx.AsyncClient, fees: Obj) -> None:
    """Negative or huge fees, more than 50 % of the check, and unknown fee fields are 422."""
    program = await builders.program(client)
    response = await client.patch(f"/v1/programs/{program['id']}", json={"fees": fees}, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")
    read = await client.get(f"/v1/programs/{program['id']}", headers=ADMIN)
    assert read.json()["fees"] == {"per_visit_minor": None, "percent_of_check": None}


async def test_a_venue_program_charges_no_fees(client: httpx.AsyncClient) -> None:
    """Fees are what the coalition charges venues: a venue program with fees is 422 on create and update."""
    owner = await builders.partner(client)
    body = {
        "name": "Own loyalty",
        "kind": "venue",
        "owner_partner_id": owner["id"],
        "currency": "RUB",
        "tiers": [{"code": "base", "name": "Base"}],
        "fees": {"per_visit_minor": 100},
    }
    refused = await client.post("/v1/programs", json=body, headers=ADMIN)
    assert (refused.status_code, error_of(refused)["details"]["field"]) == (422, "fees")
    program = await builders.program(client, kind="venue", owner=owner)
    patched = await client.patch(
        f"/v1/programs/{program['id']}", json={"fees": {"percent_of_check": 1}}, headers=ADMIN
    )
    assert patched.status_code == 422
