"""Statistics after real guest flows: rollups, venue-local days, scopes, k-anonymity, summary, RFM."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from hub.clock import FrozenClock
from hub.db import Database
from hub.stats.cli import rebuild
from hub.stats.models import StatsDaily, StatsDailyGuest
from hub.stats.rollups import insert_rows
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import World, receipt_body

Obj = dict[str, Any]
DAY = "2026-11-20"
TOTAL = 405_000  # Ribeye 2500.00 + 2 x Barolo 900.00, 10% off the food only
DISCOUNT = 25_000


async def visit_of(world: World, member: Obj) -> str:
    scan = await world.scan(member["card_number"])
    assert scan.status_code == 201, scan.text
    answer = await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert answer.status_code == 200, answer.text
    visit_id: str = answer.json()["visit_id"]
    return visit_id


async def buy(world: World, member: Obj, check_id: str, **fields: Any) -> str:
    with world.at(fields.get("closed_at", world.clock.now().isoformat())):  # the visit when its check closed
        visit_id = await visit_of(world, member)
        response = await world.client.post(
            f"/v1/visits/{visit_id}/receipt", json=receipt_body(check_id, **fields), headers=world.till
        )
    assert response.status_code == 201, response.text
    receipt_id: str = response.json()["receipt_id"]
    return receipt_id


async def refund(world: World, receipt_id: str, amount: int | None = None) -> None:
    body: Obj = {"reason": "returned"} | ({"amount_minor": amount} if amount is not None else {})
    response = await world.client.post(f"/v1/receipts/{receipt_id}/refund", json=body, headers=world.till)
    assert response.status_code == 201, response.text


async def venue_stats(
    world: World, headers: dict[str, str] | None = None, /, **params: str
) -> httpx.Response:
    return await world.client.get(
        f"/v1/venues/{world.venue['id']}/stats",
        params={"from": DAY, "to": DAY, **params},
        headers=headers or ADMIN,
    )


async def rollup_rows(db: Database) -> tuple[list[Any], list[Any]]:
    async with db.sessionmaker() as session:
        daily = (
            await session.execute(select(StatsDaily).order_by(*StatsDaily.__table__.primary_key))
        ).scalars()
        daily_rows = [tuple(getattr(r, c.name) for c in StatsDaily.__table__.c) for r in daily]
        guests = (
            await session.execute(select(StatsDailyGuest).order_by(*StatsDailyGuest.__table__.primary_key))
        ).scalars()
        guest_rows = [tuple(getattr(r, c.name) for c in StatsDailyGuest.__table__.c) for r in guests]
    return daily_rows, guest_rows


async def test_venue_numbers_after_receipts_and_refunds(world: World, db: Database) -> None:
    """Three receipts of two guests and two refunds give the hand-computed venue numbers."""
    other = await builders.member(world.client, world.program, tier_code="silver")
    first = await buy(world, world.member, "CHK-1")
    second = await buy(world, world.member, "CHK-2")
    third = await buy(world, other, "CHK-3")
    await refund(world, second, 100_000)  # discount back: 25000 x 100000 / 405000 = 6172.8 → 6173
    await refund(world, third)  # in full: the visit stays, the purchase goes
    body = (await venue_stats(world)).json()
    net = 3 * TOTAL - 100_000 - TOTAL
    expected = {
        "visits": 3,
        "unique_guests": 2,
        "receipts": 2,
        "check_sum_minor": net,
        "average_check_minor": net // 2,
        "discount_sum_minor": 3 * DISCOUNT - 6_173 - DISCOUNT,
    }
    assert {k: body[k] for k in expected} == expected
    assert body["currency"] == "RUB"
    assert [row["tier_code"] for row in body["by_tier"]] == ["silver"]
    assert {k: body["by_tier"][0][k] for k in expected} == expected
    assert [(p["program_id"], p["visits"]) for p in body["by_program"]] == [(world.program["id"], 3)]
    assert [(d["date"], d["unique_guests"]) for d in body["by_day"]] == [(DAY, 2)]
    assert first


async def test_rollups_equal_a_rebuild_and_rebuild_is_idempotent(world: World, db: Database) -> None:
    """The rollups kept by the flow equal those recomputed from visits; rebuilding again changes nothing."""
    other = await builders.member(world.client, world.program, tier_code="gold")
    await buy(world, world.member, "R-1")
    late = await buy(world, other, "R-2")
    await refund(world, late, 50_000)
    await refund(world, late, 1_000)
    kept = await rollup_rows(db)
    assert await rebuild(db, None) == 2
    assert await rollup_rows(db) == kept
    assert await rebuild(db, dt.date(2026, 11, 21)) == 0
    assert await rollup_rows(db) == kept


async def test_dates_are_bounded(world: World) -> None:
    """More than 366 days, or 'from' after 'to', is 422; no dates means the last 30 days."""
    too_long = await venue_stats(world, **{"from": "2025-01-01", "to": "2026-11-20"})
    assert (too_long.status_code, error_of(too_long)["code"]) == (422, "validation_failed")
    backwards = await venue_stats(world, **{"from": "2026-11-21", "to": "2026-11-20"})
    assert backwards.status_code == 422
    default = await world.client.get(f"/v1/venues/{world.venue['id']}/stats", headers=ADMIN)
    assert (default.json()["date_from"], default.json()["date_to"]) == ("2026-10-22", "2026-11-20")


async def test_each_role_sees_its_part_of_a_venue(world: World) -> None:
    """Venue, partner and admin see every program at the venue; a concierge only its own; a terminal none."""
    client = world.client
    second = await builders.program(client, card_rules=[{"type": "prefix", "value": "55"}])
    await builders.offer(client, second, at_partner=world.partner)
    guest_b = await builders.member(client, second, card_number="5500000000001", tier_code="gold")
    await buy(world, world.member, "A-1")
    await buy(world, guest_b, "B-1")
    keys = {
        "venue": await builders.key(client, "venue", venue_id=world.venue["id"]),
        "partner": await builders.key(client, "partner", partner_id=world.partner["id"]),
        "concierge": await builders.key(client, "concierge", program_ids=[world.program["id"]]),
    }
    for role in ("venue", "partner"):
        body = (await venue_stats(world, bearer(keys[role]))).json()
        assert (role, body["visits"], len(body["by_program"])) == (role, 2, 2)
    concierge = bearer(keys["concierge"])
    body = (await venue_stats(world, concierge)).json()
    assert (body["visits"], [p["program_id"] for p in body["by_program"]]) == (1, [world.program["id"]])
    assert second["id"] not in str(body)
    refused = await venue_stats(world, concierge, program_id=second["id"])
    assert refused.status_code == 403
    assert "visits" not in refused.text
    for path in ("stats", "summary", "segments"):
        other = await client.get(f"/v1/programs/{second['id']}/{path}", headers=concierge)
        assert other.status_code == 404, path
        assert "visits" not in other.text
        own = await client.get(f"/v1/programs/{world.program['id']}/{path}", headers=concierge)
        assert own.status_code == 200, own.text
        for role in ("venue", "partner"):
            denied = await client.get(
                f"/v1/programs/{world.program['id']}/{path}", headers=bearer(keys[role])
            )
            assert denied.status_code == 403, (role, path)
    terminal = await venue_stats(world, world.till)
    assert terminal.status_code == 403


async def _crowd(client: httpx.AsyncClient, db: Database, program: Obj, at: Obj, guests: int) -> None:
    """`guests` distinct members with one closed visit each at a venue, written as rollup rows."""
    members = [await builders.member(client, program) for _ in range(guests)]
    day = dt.date(2026, 11, 20)
    venue_id, program_id = uuid.UUID(at["id"]), uuid.UUID(program["id"])
    daily = {
        "venue_id": venue_id,
        "local_date": day,
        "program_id": program_id,
        "tier_code": "silver",
        "visits": guests,
        "checked": guests,
        "receipts": guests,
        "check_sum_minor": 1000 * guests,
        "discount_sum_minor": 100 * guests,
        "items": guests,
        "refunds_minor": 0,
        "refunded_discount_minor": 0,
    }
    rows = [
        {"venue_id": venue_id, "local_date": day, "program_id": program_id, "member_id": uuid.UUID(m["id"])}
        | {"tier_code": "silver", "visits": 1}
        for m in members
    ]
    async with db.transaction() as session:
        await insert_rows(session, StatsDaily, [daily])
        await insert_rows(session, StatsDailyGuest, rows)


async def test_k_anonymity_hides_venues_and_districts_under_five_guests(
    client: httpx.AsyncClient, db: Database
) -> None:
    """A venue or district of 4 guests is not listed, one of 5 is; "other" shows only from 5 guests on."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    five = await builders.venue(client, partner, district="Arbat")
    four = await builders.venue(client, partner, district="Khamovniki")
    await _crowd(client, db, program, five, 5)
    await _crowd(client, db, program, four, 4)
    url = f"/v1/programs/{program['id']}/stats"
    body = (await client.get(url, params={"from": DAY, "to": DAY}, headers=ADMIN)).json()
    assert (body["visits"], body["unique_guests"]) == (9, 9)
    assert [v["venue_id"] for v in body["top_venues"]] == [five["id"]]
    assert [d["district"] for d in body["by_district"]] == ["Arbat"]
    assert four["id"] not in str(body["top_venues"])
    assert "Khamovniki" not in str(body)
    assert sum(p["visits"] for p in body["by_partner"]) == 9
    one = await builders.venue(client, partner, district="Presnya")
    await _crowd(client, db, program, one, 1)
    body = (await client.get(url, params={"from": DAY, "to": DAY}, headers=ADMIN)).json()
    assert body["top_venues"][-1] | {"venue_id": None} == {
        "venue_id": None,
        "venue_name": "other",
        "partner_id": None,
        "visits": 5,
        "unique_guests": 5,
        "check_sum_minor": 5000,
    }
    assert [(d["district"], d["unique_guests"]) for d in body["by_district"]] == [("Arbat", 5), ("other", 5)]


async def test_summary_report_by_day_and_tier(world: World) -> None:
    """The summary counts cards issued, first purchases, purchases, average check and items per check."""
    other = await builders.member(world.client, world.program, tier_code="gold")
    await buy(world, world.member, "S-1")
    await buy(world, other, "S-2")
    await buy(world, world.member, "S-3")
    url = f"/v1/programs/{world.program['id']}/summary"
    issued_on = other["created_at"][:10]  # members are created on the wall clock's day
    dates = {"from": min(DAY, issued_on), "to": max(DAY, issued_on)}
    body = (await world.client.get(url, params={**dates, "group_by": "day"}, headers=ADMIN)).json()
    assert body["total"] == {
        "key": "total",
        "label": "total",
        "cards_issued": 2,
        "registered": 2,
        "visits": 3,
        "visits_awaiting_check": 0,
        "purchase_sum_minor": 3 * TOTAL,
        "purchase_count": 3,
        "average_check_minor": TOTAL,
        "items_per_check": 3.0,  # 1 ribeye and 2 barolo: items by quantity
    }
    assert [r["key"] for r in body["rows"]] == sorted({DAY, issued_on})
    by_tier = (await world.client.get(url, params={**dates, "group_by": "tier"}, headers=ADMIN)).json()
    assert [(r["key"], r["purchase_count"], r["cards_issued"]) for r in by_tier["rows"]] == [
        ("gold", 1, 1),
        ("silver", 2, 1),
    ]
    by_venue = (await world.client.get(url, params={**dates, "group_by": "venue"}, headers=ADMIN)).json()
    assert (by_venue["rows"], by_venue["total"]["registered"], by_venue["total"]["cards_issued"]) == (
        [],  # one venue of 2 guests: under k-anonymity (tests/stats/test_k_anonymity.py)
        2,
        None,
    )


async def test_rfm_refresh_scores_and_names_segments(world: World, clock: FrozenClock) -> None:
    """A frequent recent guest scores above a one-off guest of months ago; GET serves the last computation."""
    url = f"/v1/programs/{world.program['id']}/segments"
    never = (await world.client.get(url, headers=ADMIN)).json()
    assert (never["computed_at"], never["scored_members"]) == (None, 0)
    other = await builders.member(world.client, world.program, tier_code="gold")
    for at, member, check_id in (
        (dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), other, "F-3"),
        (dt.datetime(2026, 11, 19, 12, 0, tzinfo=dt.UTC), world.member, "F-1"),
        (dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC), world.member, "F-2"),
    ):
        clock.set(at)
        await buy(world, member, check_id, closed_at=at.isoformat())
    clock.set(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))
    refreshed = await world.client.post(f"{url}/refresh", headers=ADMIN)
    assert refreshed.status_code == 200, refreshed.text
    body = (await world.client.get(url, headers=ADMIN)).json()
    assert (body["computed_at"], body["scored_members"]) == ("2026-11-20T12:00:00Z", 2)
    scores = {m["member_id"]: m for m in body["members"]["items"]}
    frequent, once = scores[world.member["id"]], scores[other["id"]]
    assert (frequent["r_score"], frequent["f_score"], frequent["monetary_minor"]) == (4, 4, 2 * TOTAL)
    assert (once["r_score"], once["f_score"], once["recency_days"]) == (2, 2, 172)
    assert (frequent["segment"], once["segment"]) == ("Loyal", "Hibernating")
    assert "phone" not in str(body)
    counts = {c["segment"]: c["members"] for c in body["segments"]}
    assert (counts["Loyal"], counts["Hibernating"], sum(counts.values())) == (1, 1, 2)


async def test_rfm_of_a_program_where_everyone_came_once_today(world: World) -> None:
    """Six guests each verified once today (some still awaiting the check, one visit cancelled and not
    counted): they share one score and one segment, and nobody is Lost."""
    guests = [world.member] + [
        await builders.member(world.client, world.program, name=f"Гость {n}") for n in range(5)
    ]
    for n, guest in enumerate(guests):
        if n % 2:
            await buy(world, guest, f"Сегодня-{n}")
        else:
            await visit_of(world, guest)
    dropped = await visit_of(world, guests[0])
    cancelled = await world.client.post(
        f"/v1/visits/{dropped}/cancel", json={"reason": "дубль"}, headers=world.till
    )
    assert cancelled.status_code == 200, cancelled.text
    url = f"/v1/programs/{world.program['id']}/segments"
    body = (await world.client.post(f"{url}/refresh", headers=ADMIN)).json()
    assert body["scored_members"] == 6
    members = body["members"]["items"]
    assert {(m["recency_days"], m["frequency"], m["r_score"], m["f_score"]) for m in members} == {
        (0, 1, 3, 3)
    }
    counts = {c["segment"]: c["members"] for c in body["segments"]}
    assert (counts["Lost"], counts["Need attention"]) == (0, 6)
