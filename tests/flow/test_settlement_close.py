"""Closing a settlement month: the statement freezes, late facts land in the month they are recorded, fees
follow the visit's date and visits count verified visits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from hub.audit.models import AuditEntry
from hub.clock import UTC, FrozenClock
from hub.db import Database
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import receipt_body
from tests.flow.test_settlement import VENUE_1_SALE, Coalition, coalition, figures, line_of

__all__ = ["coalition"]  # the fixture, shared with the statement tests

Obj = dict[str, Any]


async def close(client: httpx.AsyncClient, period: str, headers: dict[str, str] = ADMIN) -> httpx.Response:
    return await client.post(f"/v1/settlements/{period}/close", headers=headers)


async def verified(coalition: Coalition, at: str) -> str:
    """A new member's visit at venue 1, verified at that moment (no receipt yet)."""
    member = await builders.member(coalition.client, coalition.world.program, tier_code="silver")
    with coalition.world.at(at):
        visit_id = await coalition.world.verified_visit_of(member["card_number"])
    return visit_id


async def test_a_month_is_open_until_closed_then_frozen(
    coalition: Coalition, clock: FrozenClock, db: Database
) -> None:
    """November is open while it runs; closed in December it answers what closing froze, and a refund,
    new fees, a renamed venue or a second close change nothing in it; the close is audited once."""
    sale = await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    november = await coalition.statement("2026-11")
    assert (november["status"], november["closed_at"]) == ("open", None)
    clock.set(dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    closed = await close(coalition.client, "2026-11")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["closed_at"]) == ("closed", "2026-12-02T09:00:00Z")
    assert body["lines"] == november["lines"]
    assert body["by_partner"] == november["by_partner"]
    await coalition.refund(coalition.world.till, sale)
    await coalition.client.patch(
        f"/v1/venues/{coalition.world.venue['id']}", json={"name": "Новое имя"}, headers=ADMIN
    )
    await coalition.client.patch(
        f"/v1/programs/{coalition.world.program['id']}", json={"fees": {"per_visit_minor": 1}}, headers=ADMIN
    )
    clock.advance(days=1)
    again = await close(coalition.client, "2026-11")
    assert again.status_code == 200, again.text
    assert again.json() == body
    assert await coalition.statement("2026-11") == body
    december = await coalition.statement("2026-12")
    assert december["status"] == "open"
    assert figures(line_of(december, coalition.world.venue, "refunds"))["paid_minor"] == -405_000
    async with db.sessionmaker() as session:
        closes = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "settlement.close"))
        )
    assert [(e.target_id, e.details["period"]) for e in closes] == [("2026-11", "2026-11")]


async def test_a_month_that_has_not_ended_everywhere_cannot_close(
    coalition: Coalition, clock: FrozenClock
) -> None:
    """The current month, a future one, and November before it ended in Moscow (Vladivostok's ended) are
    409 period_not_ended, saying from when; nothing is closed."""
    for period in ("2026-11", "2027-01"):
        refused = await close(coalition.client, period)
        assert (refused.status_code, error_of(refused)["code"]) == (409, "period_not_ended"), refused.text
    clock.set(dt.datetime(2026, 11, 30, 20, 59, tzinfo=UTC))  # Moscow 23:59 on 30 November
    early = await close(coalition.client, "2026-11")
    assert (early.status_code, error_of(early)["code"]) == (409, "period_not_ended")
    assert error_of(early)["details"] == {"period": "2026-11", "closable_from": "2026-11-30T21:00:00Z"}
    assert (await coalition.statement("2026-11"))["status"] == "open"
    clock.set(dt.datetime(2026, 11, 30, 21, 0, tzinfo=UTC))
    assert (await close(coalition.client, "2026-11")).status_code == 200


async def test_only_an_admin_closes(coalition: Coalition, clock: FrozenClock) -> None:
    """A partner, venue or concierge key may read the statement but not close it; a bad period is 422."""
    clock.set(dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    client, world = coalition.client, coalition.world
    for key in (
        await builders.key(client, "partner", partner_id=world.partner["id"]),
        await builders.key(client, "venue", venue_id=world.venue["id"]),
        await builders.key(client, "concierge", program_ids=[world.program["id"]]),
        world.terminal_key,
    ):
        refused = await close(client, "2026-11", bearer(key))
        assert (refused.status_code, error_of(refused)["code"]) == (403, "forbidden")
    assert (await coalition.statement("2026-11"))["status"] == "open"
    bad = await close(client, "2026-13")
    assert (bad.status_code, error_of(bad)["code"]) == (422, "validation_failed")


async def test_a_closed_month_is_read_in_each_keys_scope(coalition: Coalition, clock: FrozenClock) -> None:
    """The frozen lines are filtered as the open ones were: a venue sees itself, another program's
    concierge nothing, partner_id filters."""
    await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    clock.set(dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    assert (await close(coalition.client, "2026-11")).status_code == 200
    client = coalition.client
    other_program = await builders.program(client, card_rules=[{"type": "prefix", "value": "66"}])
    venue_key = await builders.key(client, "venue", venue_id=coalition.venue_2["id"])
    stranger = await builders.key(client, "concierge", program_ids=[other_program["id"]])
    mine = await coalition.statement("2026-11", headers=bearer(venue_key))
    assert {x["venue"]["id"] for x in mine["lines"]} == {coalition.venue_2["id"]}
    assert [v["venue"]["id"] for v in mine["by_venue"]] == [coalition.venue_2["id"]]
    assert (await coalition.statement("2026-11", headers=bearer(stranger)))["lines"] == []
    other = await builders.partner(client)
    assert (await coalition.statement("2026-11", partner_id=other["id"]))["lines"] == []


async def test_a_receipt_for_a_closed_month_lands_in_the_month_it_is_recorded(
    coalition: Coalition, clock: FrozenClock
) -> None:
    """A visit verified late on 30 November whose check comes after November was closed: the visit stays in
    November (frozen), the sale lands in December."""
    visit_id = await verified(coalition, "2026-11-30T20:50:00Z")
    clock.set(dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    november = (await close(coalition.client, "2026-11")).json()
    assert figures(line_of(november, coalition.world.venue, "sales"))["visits"] == 1
    assert figures(line_of(november, coalition.world.venue, "sales"))["receipts"] == 0
    posted = await coalition.client.post(
        f"/v1/visits/{visit_id}/receipt",
        json=receipt_body("Поздний-1", closed_at="2026-11-30T20:55:00Z"),
        headers=coalition.world.till,
    )
    assert posted.status_code == 201, posted.text
    assert await coalition.statement("2026-11") == november
    december = figures(line_of(await coalition.statement("2026-12"), coalition.world.venue, "sales"))
    assert december == {**VENUE_1_SALE, "visits": 0}


async def test_visits_count_verified_visits_beside_receipts(coalition: Coalition) -> None:
    """A verified visit whose check has not come counts as a visit with no receipt, no money, no fee."""
    await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    await verified(coalition, "2026-11-21T10:00:00Z")
    line = figures(line_of(await coalition.statement("2026-11"), coalition.world.venue, "sales"))
    assert line == {**VENUE_1_SALE, "visits": 2, "receipts": 1}


async def test_fees_are_those_in_force_on_the_visits_date(coalition: Coalition, clock: FrozenClock) -> None:
    """A visit verified before a fee change whose check is written after it owes the fees of its visit's
    date."""
    visit_id = await verified(coalition, "2026-11-20T18:10:00Z")
    clock.set(dt.datetime(2026, 11, 20, 18, 12, tzinfo=UTC))
    changed = await coalition.client.patch(
        f"/v1/programs/{coalition.world.program['id']}",
        json={"fees": {"per_visit_minor": 9_000}},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text
    clock.set(dt.datetime(2026, 11, 20, 18, 15, tzinfo=UTC))
    posted = await coalition.client.post(
        f"/v1/visits/{visit_id}/receipt",
        json=receipt_body("Плата-1", closed_at="2026-11-20T18:14:00Z"),
        headers=coalition.world.till,
    )
    assert posted.status_code == 201, posted.text
    line = figures(line_of(await coalition.statement("2026-11"), coalition.world.venue, "sales"))
    assert (line["fee_per_visit_minor"], line["fee_percent_minor"]) == (5_000, 8_100)
