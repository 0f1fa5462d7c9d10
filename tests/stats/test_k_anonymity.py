"""k-anonymity (5 distinct guests) wherever the coalition sees venues' figures: program stats by venue,
partner and district, the summary by venue, venue stats read by a concierge, their exports and the
concierge page; a venue, its partner and an admin see the venue's own numbers in full."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from hub.clock import FrozenClock
from hub.db import Database
from hub.stats.models import StatsDaily, StatsDailyGuest
from hub.stats.rollups import insert_rows
from hub.web import sessions
from tests import builders
from tests.conftest import ADMIN, bearer

Obj = dict[str, Any]
DAY = dt.date(2026, 11, 20)


async def crowd(
    client: httpx.AsyncClient, db: Database, program: Obj, at: Obj, guests: int, day: dt.date = DAY
) -> list[Obj]:
    """`guests` new members with one visit each (and its check) at a venue on a day, as rollup rows."""
    members = [await builders.member(client, program, tier_code="silver") for _ in range(guests)]
    key = {"venue_id": uuid.UUID(at["id"]), "local_date": day, "program_id": uuid.UUID(program["id"])}
    sums = {"visits": guests, "checked": guests, "receipts": guests, "check_sum_minor": 1000 * guests}
    sums |= {"discount_sum_minor": 0, "items": guests, "refunds_minor": 0, "refunded_discount_minor": 0}
    rows = [key | {"member_id": uuid.UUID(m["id"]), "tier_code": "silver", "visits": 1} for m in members]
    async with db.transaction() as session:
        await insert_rows(session, StatsDaily, [key | {"tier_code": "silver"} | sums])
        await insert_rows(session, StatsDailyGuest, rows)
    return members


async def partners_with(client: httpx.AsyncClient, db: Database, program: Obj, sizes: list[int]) -> list[Obj]:
    """One partner with one venue per size, that many guests there."""
    partners = []
    for size in sizes:
        partner = await builders.partner(client, name=builders.unique("Ресторатор"))
        venue = await builders.venue(client, partner, district=builders.unique("Район"))
        await crowd(client, db, program, venue, size)
        partners.append(partner)
    return partners


async def test_program_stats_hide_partners_under_five_guests(client: httpx.AsyncClient, db: Database) -> None:
    """A partner of 4 guests is not listed by partner; of 5 it is; "other" shows from 5 hidden guests on."""
    program = await builders.program(client)
    five, four = await partners_with(client, db, program, [5, 4])
    url = f"/v1/programs/{program['id']}/stats"
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    body = (await client.get(url, params=params, headers=ADMIN)).json()
    assert [p["partner_id"] for p in body["by_partner"]] == [five["id"]]
    assert four["id"] not in str(body)
    assert four["name"] not in str(body)
    (single,) = await partners_with(client, db, program, [1])
    body = (await client.get(url, params=params, headers=ADMIN)).json()
    assert [(p["partner_id"], p["partner_name"], p["unique_guests"]) for p in body["by_partner"]] == [
        (five["id"], five["name"], 5),
        (None, "other", 5),
    ]
    assert single["id"] not in str(body)


async def test_the_summary_by_venue_hides_venues_under_five_guests(
    client: httpx.AsyncClient, db: Database
) -> None:
    """group_by=venue lists the venue of 5 guests and not the one of 4; the 4 and 1 more make an "other"
    row of 5 guests, with their visits and first visits."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    venues = [await builders.venue(client, partner, name=builders.unique("Кафе")) for _ in range(3)]
    for venue, size in zip(venues, (5, 4, 1), strict=True):
        await crowd(client, db, program, venue, size)
    url = f"/v1/programs/{program['id']}/summary"
    params = {"from": DAY.isoformat(), "to": DAY.isoformat(), "group_by": "venue"}
    body = (await client.get(url, params=params, headers=ADMIN)).json()
    assert body["k_anonymity"] == 5
    rows = [(r["key"], r["label"], r["visits"], r["registered"]) for r in body["rows"]]
    assert rows == [(venues[0]["id"], venues[0]["name"], 5, 5), ("other", "other", 5, 5)]
    assert venues[1]["name"] not in str(body)
    assert venues[2]["id"] not in str(body)
    assert (body["total"]["visits"], body["total"]["registered"]) == (10, 10)


async def test_a_concierge_sees_one_venues_days_only_from_five_guests(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Read with a concierge key, a venue's days of fewer than 5 guests are left out and the answer says
    so (the CSV too); the venue's own key, its partner's and an admin's see every day."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner)
    await builders.offer(client, program, at_partner=partner)
    await crowd(client, db, program, venue, 6, DAY)
    await crowd(client, db, program, venue, 2, DAY - dt.timedelta(days=1))
    url = f"/v1/venues/{venue['id']}/stats"
    params = {"from": "2026-11-19", "to": "2026-11-20"}
    concierge = bearer(await builders.key(client, "concierge", program_ids=[program["id"]]))
    body = (await client.get(url, params=params, headers=concierge)).json()
    assert [d["date"] for d in body["by_day"]] == ["2026-11-20"]
    assert (body["k_anonymity"], body["suppressed"]) == (5, [{"table": "by_day", "rows": 1}])
    assert (body["visits"], body["unique_guests"]) == (8, 8)
    exported = await client.get(url, params=params | {"format": "csv"}, headers=concierge)
    assert "2026-11-19" not in exported.text
    assert "2026-11-20" in exported.text
    own = {
        "venue": bearer(await builders.key(client, "venue", venue_id=venue["id"])),
        "partner": bearer(await builders.key(client, "partner", partner_id=partner["id"])),
        "admin": ADMIN,
    }
    for role, headers in own.items():
        full = (await client.get(url, params=params, headers=headers)).json()
        assert [d["date"] for d in full["by_day"]] == ["2026-11-19", "2026-11-20"], role
        assert (full["k_anonymity"], full["suppressed"]) == (None, []), role


async def test_a_concierge_sees_one_venues_tiers_only_from_five_guests(
    client: httpx.AsyncClient, db: Database
) -> None:
    """A tier of 4 guests at a venue is left out of a concierge's by_tier, a tier of 5 stays."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner)
    await builders.offer(client, program, at_partner=partner)
    await crowd(client, db, program, venue, 5)
    gold = [await builders.member(client, program, tier_code="gold") for _ in range(4)]
    key = {"venue_id": uuid.UUID(venue["id"]), "local_date": DAY, "program_id": uuid.UUID(program["id"])}
    async with db.transaction() as session:
        await insert_rows(session, StatsDaily, [key | {"tier_code": "gold", "visits": 4}])
        await insert_rows(
            session,
            StatsDailyGuest,
            [key | {"member_id": uuid.UUID(m["id"]), "tier_code": "gold"} for m in gold],
        )
    concierge = bearer(await builders.key(client, "concierge", program_ids=[program["id"]]))
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    body = (await client.get(f"/v1/venues/{venue['id']}/stats", params=params, headers=concierge)).json()
    assert [t["tier_code"] for t in body["by_tier"]] == ["silver"]
    assert body["suppressed"] == [{"table": "by_tier", "rows": 1}]
    assert [d["unique_guests"] for d in body["by_day"]] == [9]


async def test_the_concierge_page_names_only_venues_of_five_guests(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    """The concierge's page ranks the venue of 5 guests and never names the venue of 4."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    five = await builders.venue(client, partner, name=builders.unique("Пять гостей"))
    four = await builders.venue(client, partner, name=builders.unique("Четыре гостя"), district="Пресня")
    await crowd(client, db, program, five, 5)
    await crowd(client, db, program, four, 4)
    key = await builders.key(client, "concierge", program_ids=[program["id"]])
    async with db.transaction() as session:
        signed = await sessions.sign_in(session, key, None, clock.now())
    assert signed is not None
    client.cookies.set(sessions.SESSION_COOKIE, signed[0])
    page = await client.get("/app/concierge", params={"program_id": program["id"]})
    assert page.status_code == 200, page.text
    assert five["name"] in page.text
    assert four["name"] not in page.text
    assert "Пресня" not in page.text
