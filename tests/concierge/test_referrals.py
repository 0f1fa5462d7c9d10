"""Referrals over HTTP: booking, fulfilment by a visit verified through the real flow, expiry, cancelling."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from connectors.outbox import OutboxEvent
from hub.concierge.models import Referral
from hub.db import Database
from tests import builders
from tests.concierge.conftest import Desk, at
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import receipt_body


async def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    async with db.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id)
        )
        return [e.envelope for e in rows]


async def referral_count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(Referral.id))) or 0)


async def test_booking_by_member_id(desk: Desk) -> None:
    """A concierge books its member into a served venue: booked, with a window of -12 h to +24 h."""
    expected = desk.clock.now() + dt.timedelta(hours=2)
    response = await desk.book(party_size=4, note="window table")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "booked"
    assert body["member_id"] == desk.world.member["id"]
    assert body["card_number"] == desk.world.member["card_number"]
    assert body["venue"] == {
        "id": desk.world.venue["id"],
        "name": desk.world.venue["name"],
        "district": desk.world.venue["district"],
        "timezone": desk.world.venue["timezone"],
    }
    assert dt.datetime.fromisoformat(body["expected_at"]) == expected
    assert dt.datetime.fromisoformat(body["window_opens_at"]) == expected - dt.timedelta(hours=12)
    assert dt.datetime.fromisoformat(body["window_closes_at"]) == expected + dt.timedelta(hours=24)
    assert (body["party_size"], body["note"]) == (4, "window table")
    assert body["visit_id"] is None
    assert body["check_sum_minor"] is None
    assert await desk.read(body) == body


async def test_booking_by_card_number(desk: Desk) -> None:
    """The member may be named by card number, in either case."""
    card = desk.world.member["card_number"]
    body = await desk.booked(member_id=None, card_number=card.lower())
    assert body["member_id"] == desk.world.member["id"]
    assert body["card_number"] == card


async def test_a_visit_inside_the_window_fulfils_the_referral(desk: Desk, db: Database) -> None:
    """A visit verified inside the window marks the referral visited, names it in visit.verified, writes
    referral.visited, and the check sum appears once the receipt is posted."""
    referral = await desk.booked(hours_from_now=3)
    desk.clock.advance(hours=2)
    visit_id = await desk.visit()
    read = await desk.read(referral)
    assert (read["status"], read["visit_id"]) == ("visited", visit_id)
    assert dt.datetime.fromisoformat(read["visited_at"]) == desk.clock.now()
    assert read["check_sum_minor"] is None  # no receipt yet
    (verified,) = await events(db, "visit.verified")
    assert verified["data"]["referral_id"] == referral["id"]
    (visited,) = await events(db, "referral.visited")
    assert visited["data"]["referral_id"] == referral["id"]
    assert visited["data"]["visit_id"] == visit_id
    assert visited["venue"]["id"] == desk.world.venue["id"]
    assert visited["program"]["id"] == desk.world.program["id"]
    posted = await desk.client.post(
        f"/v1/visits/{visit_id}/receipt",
        json=receipt_body(closed_at=desk.clock.now().isoformat()),
        headers=desk.world.till,
    )
    assert posted.status_code == 201, posted.text
    read = await desk.read(referral)
    assert read["check_sum_minor"] == 430_000
    assert (read["discount_minor"], read["total_minor"], read["currency"]) == (25_000, 405_000, "RUB")
    (listed,) = await desk.listed(status="visited")
    assert listed == read


async def test_a_visit_at_the_edges_of_the_window_counts(desk: Desk) -> None:
    """Exactly 12 h early still fulfils the referral."""
    referral = await desk.booked(hours_from_now=12)
    await desk.visit()
    assert (await desk.read(referral))["status"] == "visited"


async def test_a_visit_outside_the_window_does_not_fulfil_and_the_referral_expires(
    desk: Desk, db: Database
) -> None:
    """A visit before the window opens fulfils nothing; after the window the referral reads expired, in the
    list too, and can no longer be cancelled or fulfilled."""
    referral = await desk.booked(hours_from_now=13)  # the window opens in 1 h
    await desk.visit()
    (verified,) = await events(db, "visit.verified")
    assert verified["data"]["referral_id"] is None
    assert await events(db, "referral.visited") == []
    assert (await desk.read(referral))["status"] == "booked"
    desk.clock.advance(hours=13 + 24, seconds=1)
    assert (await desk.read(referral))["status"] == "expired"
    assert [r["id"] for r in await desk.listed(status="expired")] == [referral["id"]]
    assert await desk.listed(status="booked") == []
    await desk.visit()
    assert (await desk.read(referral))["status"] == "expired"
    cancel = await desk.client.post(f"/v1/referrals/{referral['id']}/cancel", headers=desk.headers)
    assert (cancel.status_code, error_of(cancel)["code"]) == (409, "referral_not_booked")
    assert error_of(cancel)["details"]["status"] == "expired"


async def test_a_visit_at_another_venue_does_not_fulfil(desk: Desk) -> None:
    """Only a visit at the booked venue counts, even at the same partner's other venue."""
    other = await builders.venue(desk.client, desk.world.partner)
    till = await builders.terminal(desk.client, other)
    referral = await desk.booked()
    await desk.visit(bearer(till["api_key"]))
    assert (await desk.read(referral))["status"] == "booked"


async def test_one_visit_fulfils_one_referral(desk: Desk, db: Database) -> None:
    """With two bookings in the window, a visit takes the one expected closest; the next visit the other."""
    later = await desk.booked(hours_from_now=5)
    sooner = await desk.booked(hours_from_now=1)
    first_visit = await desk.visit()
    assert (await desk.read(sooner))["visit_id"] == first_visit
    assert (await desk.read(later))["status"] == "booked"
    desk.clock.advance(hours=4)
    second_visit = await desk.visit()
    assert (await desk.read(later))["visit_id"] == second_visit
    assert len(await events(db, "referral.visited")) == 2
    third_visit = await desk.visit()
    statuses = {r["visit_id"]: r["status"] for r in await desk.listed()}
    assert third_visit not in statuses
    assert set(statuses.values()) == {"visited"}


async def test_cancel_a_booked_referral(desk: Desk, db: Database) -> None:
    """A cancelled referral stays cancelled: a later visit fulfils nothing; cancelling twice is 409."""
    referral = await desk.booked()
    response = await desk.client.post(f"/v1/referrals/{referral['id']}/cancel", headers=desk.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    await desk.visit()
    assert (await desk.read(referral))["status"] == "cancelled"
    assert await events(db, "referral.visited") == []
    again = await desk.client.post(f"/v1/referrals/{referral['id']}/cancel", headers=desk.headers)
    assert (again.status_code, error_of(again)["code"]) == (409, "referral_not_booked")


async def test_a_visited_referral_cannot_be_cancelled(desk: Desk) -> None:
    """Cancelling after the visit is 409 and the referral stays visited."""
    referral = await desk.booked()
    await desk.visit()
    response = await desk.client.post(f"/v1/referrals/{referral['id']}/cancel", headers=desk.headers)
    assert (response.status_code, error_of(response)["code"]) == (409, "referral_not_booked")
    assert (await desk.read(referral))["status"] == "visited"


async def test_list_filters_by_venue_and_expected_time(desk: Desk) -> None:
    """venue_id, from (inclusive) and to (exclusive) narrow the list; the pages follow next_cursor."""
    other = await builders.venue(desk.client, desk.world.partner)
    first = await desk.booked(hours_from_now=1)
    second = await desk.booked(hours_from_now=2, venue_id=other["id"])
    third = await desk.booked(hours_from_now=3)
    ids = [r["id"] for r in await desk.listed(venue_id=desk.world.venue["id"])]
    assert ids == [first["id"], third["id"]]
    window = {"from": second["expected_at"], "to": third["expected_at"]}
    assert [r["id"] for r in await desk.listed(**window)] == [second["id"]]
    page = await desk.client.get("/v1/referrals", params={"limit": 2}, headers=desk.headers)
    assert [r["id"] for r in page.json()["items"]] == [first["id"], second["id"]]
    rest = await desk.client.get(
        "/v1/referrals", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=desk.headers
    )
    assert [r["id"] for r in rest.json()["items"]] == [third["id"]]
    assert rest.json()["next_cursor"] is None
    naive = await desk.client.get(
        "/v1/referrals", params={"from": "2026-11-20T10:00:00"}, headers=desk.headers
    )
    assert (naive.status_code, error_of(naive)["details"]["field"]) == (422, "from")


# ---- scopes ----


async def test_another_programs_concierge_sees_and_touches_nothing(desk: Desk, db: Database) -> None:
    """A concierge of another program: 403 booking into this program, 404 reading or cancelling its
    referral, an empty list, and nothing changes."""
    other_program = await builders.program(desk.client)
    stranger = bearer(await builders.key(desk.client, "concierge", program_ids=[other_program["id"]]))
    referral = await desk.booked()
    body = {
        "program_id": desk.world.program["id"],
        "member_id": desk.world.member["id"],
        "venue_id": desk.world.venue["id"],
        "expected_at": at(desk.clock.now() + dt.timedelta(hours=1)),
    }
    booked = await desk.client.post("/v1/referrals", json=body, headers=stranger)
    assert (booked.status_code, error_of(booked)["code"]) == (403, "forbidden")
    read = await desk.client.get(f"/v1/referrals/{referral['id']}", headers=stranger)
    assert (read.status_code, error_of(read)["code"]) == (404, "not_found")
    cancel = await desk.client.post(f"/v1/referrals/{referral['id']}/cancel", headers=stranger)
    assert (cancel.status_code, error_of(cancel)["code"]) == (404, "not_found")
    listed = await desk.client.get("/v1/referrals", headers=stranger)
    assert listed.json() == {"items": [], "next_cursor": None}
    for response in (read, cancel):
        assert referral["id"] not in response.text
        assert desk.world.member["card_number"] not in response.text
    assert await referral_count(db) == 1
    assert (await desk.read(referral))["status"] == "booked"


async def test_venue_partner_and_terminal_keys_cannot_use_referrals(desk: Desk) -> None:
    """Only concierge and admin keys reach the referral routes; the others get 403 and no data."""
    referral = await desk.booked()
    keys = [
        await builders.key(desk.client, "venue", venue_id=desk.world.venue["id"]),
        await builders.key(desk.client, "partner", partner_id=desk.world.partner["id"]),
        desk.world.terminal_key,
    ]
    for key in keys:
        headers = bearer(key)
        for method, path in (
            ("GET", "/v1/referrals"),
            ("GET", f"/v1/referrals/{referral['id']}"),
            ("POST", f"/v1/referrals/{referral['id']}/cancel"),
            ("POST", "/v1/referrals"),
            ("GET", f"/v1/members/{desk.world.member['id']}/visits"),
        ):
            response = await desk.client.request(method, path, headers=headers, json={})
            assert (response.status_code, error_of(response)["code"]) == (403, "forbidden"), (key, path)
            assert referral["id"] not in response.text
    assert (await desk.read(referral))["status"] == "booked"


async def test_the_admin_sees_every_programs_referrals(desk: Desk) -> None:
    """The admin lists and books for any program."""
    referral = await desk.booked()
    response = await desk.client.get("/v1/referrals", headers=ADMIN)
    assert [r["id"] for r in response.json()["items"]] == [referral["id"]]
    body = {
        "program_id": desk.world.program["id"],
        "card_number": desk.world.member["card_number"],
        "venue_id": desk.world.venue["id"],
        "expected_at": "2026-11-21T19:30:00+03:00",
    }
    created = await desk.client.post("/v1/referrals", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text


# ---- validation ----


async def test_invalid_bookings_are_typed_422_and_write_nothing(desk: Desk, db: Database) -> None:
    """A naive time, an unknown or unserved venue, a member of another program, both or neither member
    reference, a time whose window has closed: each a typed 422 naming the field, and no row written."""
    other_program = await builders.program(desk.client)
    stranger = await builders.member(desk.client, other_program)
    unserved = await builders.venue(desk.client, await builders.partner(desk.client))
    world = desk.world
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"expected_at": "2026-11-20T20:00:00"}, "validation_failed", "expected_at"),
        ({"venue_id": str(uuid.uuid4())}, "venue_unknown", "venue_id"),
        ({"venue_id": unserved["id"]}, "venue_unknown", "venue_id"),
        ({"member_id": stranger["id"]}, "member_unknown", "member_id"),
        ({"member_id": None, "card_number": stranger["card_number"]}, "member_unknown", "card_number"),
        ({"card_number": world.member["card_number"]}, "validation_failed", "member_id"),
        ({"member_id": None}, "validation_failed", "member_id"),
        ({"expected_at": "2026-11-18T12:00:00Z"}, "validation_failed", "expected_at"),
        ({"party_size": 0}, "validation_failed", "party_size"),
    ]
    for change, code, field in cases:
        body: dict[str, Any] = {
            "program_id": world.program["id"],
            "member_id": world.member["id"],
            "venue_id": world.venue["id"],
            "expected_at": "2026-11-20T20:00:00+03:00",
            **change,
        }
        body = {k: v for k, v in body.items() if v is not None}
        response = await desk.client.post("/v1/referrals", json=body, headers=desk.headers)
        assert response.status_code == 422, (change, response.text)
        error = error_of(response)
        assert (error["code"], error["details"]["field"]) == (code, field), change
    assert await referral_count(db) == 0


async def test_a_venue_program_takes_no_referrals(desk: Desk, db: Database) -> None:
    """A venue's own program has no PIN visit to fulfil a referral: 422 program_unknown."""
    program = await builders.program(desk.client, kind="venue", owner=desk.world.partner)
    member = await builders.member(desk.client, program)
    body = {
        "program_id": program["id"],
        "member_id": member["id"],
        "venue_id": desk.world.venue["id"],
        "expected_at": "2026-11-20T20:00:00+03:00",
    }
    response = await desk.client.post("/v1/referrals", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "program_unknown")
    assert await referral_count(db) == 0
