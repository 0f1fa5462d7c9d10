"""A guest's history: GET /v1/members/{id} with tier, totals and favourite venues, and the visits list."""

from __future__ import annotations

import datetime as dt

from tests import builders
from tests.concierge.conftest import Desk
from tests.conftest import bearer, error_of
from tests.flow.conftest import receipt_body


async def test_a_new_member_has_empty_totals(desk: Desk) -> None:
    """Before any visit: zero totals, no favourites, and the registry fields as before."""
    response = await desk.client.get(f"/v1/members/{desk.world.member['id']}", headers=desk.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    for field, value in desk.world.member.items():
        assert body[field] == value, field
    assert (body["tier_code"], body["tier_name"]) == ("silver", "Silver")
    assert body["totals"] == {
        "visits": 0,
        "check_sum_minor": 0,
        "discount_sum_minor": 0,
        "refunded_minor": 0,
        "currency": "RUB",
        "last_visit_at": None,
    }
    assert body["favourite_venues"] == []
    visits = await desk.client.get(f"/v1/members/{desk.world.member['id']}/visits", headers=desk.headers)
    assert visits.json() == {"items": [], "next_cursor": None}


async def test_history_totals_favourites_and_visits(desk: Desk) -> None:
    """Three visits at two venues (two with receipts, one refunded in part): the totals sum the receipts,
    the favourite is the venue visited twice, and the visits list newest first with its money."""
    world = desk.world
    second = await builders.venue(desk.client, world.partner, district="Tverskoy")
    second_till = bearer((await builders.terminal(desk.client, second))["api_key"])
    first_visit = await desk.visit()
    posted = await desk.client.post(
        f"/v1/visits/{first_visit}/receipt", json=receipt_body("H-1"), headers=world.till
    )
    assert posted.status_code == 201, posted.text
    refund = await desk.client.post(
        f"/v1/receipts/{posted.json()['receipt_id']}/refund",
        json={"amount_minor": 5_000, "reason": "cold soup"},
        headers=world.till,
    )
    assert refund.status_code == 201, refund.text
    desk.clock.advance(days=1)
    second_visit = await desk.visit(second_till)
    small = {"items": [{"name": "Tea", "category": "food", "quantity": 1, "unit_price_minor": 30_000}]}
    posted = await desk.client.post(
        f"/v1/visits/{second_visit}/receipt",
        json=receipt_body("H-2", closed_at=desk.clock.now().isoformat(), **small),
        headers=second_till,
    )
    assert posted.status_code == 201, posted.text
    desk.clock.advance(days=1)
    third_visit = await desk.visit()  # no receipt yet

    profile = (await desk.client.get(f"/v1/members/{world.member['id']}", headers=desk.headers)).json()
    assert profile["totals"] == {
        "visits": 3,
        "check_sum_minor": 430_000 + 30_000,
        "discount_sum_minor": 25_000 + 3_000,
        "refunded_minor": 5_000,
        "currency": "RUB",
        "last_visit_at": profile["totals"]["last_visit_at"],
    }
    assert dt.datetime.fromisoformat(profile["totals"]["last_visit_at"]) == desk.clock.now()
    assert [(v["id"], v["visits"]) for v in profile["favourite_venues"]] == [
        (world.venue["id"], 2),
        (second["id"], 1),
    ]
    assert profile["favourite_venues"][1]["district"] == "Tverskoy"
    assert profile["favourite_venues"][0]["name"] == world.venue["name"]

    url = f"/v1/members/{world.member['id']}/visits"
    page = (await desk.client.get(url, params={"limit": 2}, headers=desk.headers)).json()
    assert [v["id"] for v in page["items"]] == [third_visit, second_visit]
    newest, middle = page["items"]
    assert newest["receipt_id"] is None
    assert (newest["check_sum_minor"], newest["discount_minor"], newest["total_minor"]) == (None, None, None)
    assert newest["venue"]["id"] == world.venue["id"]
    assert middle["venue"] == {
        "id": second["id"],
        "name": second["name"],
        "district": "Tverskoy",
        "timezone": "Europe/Moscow",
    }
    assert (middle["check_sum_minor"], middle["discount_minor"], middle["total_minor"]) == (
        30_000,
        3_000,
        27_000,
    )
    rest = (
        await desk.client.get(url, params={"limit": 2, "cursor": page["next_cursor"]}, headers=desk.headers)
    ).json()
    (oldest,) = rest["items"]
    assert rest["next_cursor"] is None
    assert oldest["id"] == first_visit
    assert (oldest["check_sum_minor"], oldest["discount_minor"], oldest["total_minor"]) == (
        430_000,
        25_000,
        405_000,
    )
    assert (oldest["refunded_minor"], oldest["currency"]) == (5_000, "RUB")


async def test_favourites_are_the_top_five(desk: Desk) -> None:
    """Six venues visited: five favourites, the most visited first."""
    world = desk.world
    tills = []
    for _ in range(5):
        venue = await builders.venue(desk.client, world.partner)
        tills.append(bearer((await builders.terminal(desk.client, venue))["api_key"]))
    await desk.visit()
    desk.clock.advance(hours=1)
    await desk.visit()
    for till in tills:
        desk.clock.advance(hours=1)
        await desk.visit(till)
    profile = (await desk.client.get(f"/v1/members/{world.member['id']}", headers=desk.headers)).json()
    favourites = profile["favourite_venues"]
    assert len(favourites) == 5
    assert (favourites[0]["id"], favourites[0]["visits"]) == (world.venue["id"], 2)
    assert [f["visits"] for f in favourites[1:]] == [1, 1, 1, 1]


async def test_another_programs_concierge_gets_no_history(desk: Desk) -> None:
    """A concierge of another program gets 404 for the member and its visits, and none of their data."""
    await desk.visit()
    other_program = await builders.program(desk.client)
    stranger = bearer(await builders.key(desk.client, "concierge", program_ids=[other_program["id"]]))
    member_id = desk.world.member["id"]
    for path in (f"/v1/members/{member_id}", f"/v1/members/{member_id}/visits"):
        response = await desk.client.get(path, headers=stranger)
        assert (response.status_code, error_of(response)["code"]) == (404, "not_found"), path
        assert desk.world.member["card_number"] not in response.text
        assert desk.world.venue["id"] not in response.text
