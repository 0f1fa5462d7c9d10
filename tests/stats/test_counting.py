"""What the statistics count: verified visits (with or without their check), on the venue-local day of
verification, the same for a venue's own card and a coalition card, and a rebuild that agrees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.clock import FrozenClock
from hub.db import Database
from hub.stats.cli import rebuild
from tests import builders
from tests.conftest import ADMIN
from tests.flow.conftest import World, receipt_body
from tests.stats.test_stats import DAY, TOTAL, buy, refund, rollup_rows, venue_stats, visit_of

Obj = dict[str, Any]
FIGURES = ("visits", "unique_guests", "receipts", "visits_awaiting_check", "check_sum_minor")


def figures(body: Obj) -> dict[str, int]:
    return {name: body[name] for name in FIGURES}


async def program_stats(world: World) -> Obj:
    url = f"/v1/programs/{world.program['id']}/stats"
    response = await world.client.get(url, params={"from": DAY, "to": DAY}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: Obj = response.json()
    return body


async def summary_total(world: World) -> Obj:
    url = f"/v1/programs/{world.program['id']}/summary"
    params = {"from": DAY, "to": DAY, "group_by": "day"}
    response = await world.client.get(url, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    total: Obj = response.json()["total"]
    return total


async def test_a_verified_visit_counts_before_its_receipt_comes(world: World) -> None:
    """A PIN-verified visit without a receipt is a visit awaiting its check in venue, program and summary
    figures; its receipt then adds the receipt and the money without adding a visit."""
    visit_id = await visit_of(world, world.member)
    waiting = {"visits": 1, "unique_guests": 1, "receipts": 0, "visits_awaiting_check": 1}
    waiting |= {"check_sum_minor": 0}
    body = (await venue_stats(world)).json()
    assert figures(body) == waiting
    assert figures(body["by_day"][0]) == waiting
    assert figures(body["by_program"][0]) == waiting
    assert figures(await program_stats(world)) == waiting
    total = await summary_total(world)
    assert (total["visits"], total["visits_awaiting_check"], total["purchase_count"]) == (1, 1, 0)
    closed = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body("ЧЕК-Один"), headers=world.till
    )
    assert closed.status_code == 201, closed.text
    checked = {"visits": 1, "unique_guests": 1, "receipts": 1, "visits_awaiting_check": 0}
    assert figures(await program_stats(world)) == checked | {"check_sum_minor": TOTAL}
    assert figures((await venue_stats(world)).json()) == checked | {"check_sum_minor": TOTAL}


async def test_a_venue_card_visit_counts_like_a_coalition_visit(world: World) -> None:
    """A venue's own card opens its visit at the scan: it counts at once, like a PIN-verified visit."""
    program = await builders.program(
        world.client, kind="venue", owner=world.partner, card_rules=[{"type": "prefix", "value": "99"}]
    )
    guest = await builders.member(world.client, program, card_number="9900000000042", tier_code="gold")
    scanned = await world.scan(guest["card_number"])
    assert (scanned.status_code, scanned.json()["status"]) == (201, "venue_loyalty"), scanned.text
    await visit_of(world, world.member)
    body = (await venue_stats(world)).json()
    assert (body["visits"], body["unique_guests"], body["visits_awaiting_check"]) == (2, 2, 2)
    by_program = {p["program_id"]: (p["visits"], p["visits_awaiting_check"]) for p in body["by_program"]}
    assert by_program == {program["id"]: (1, 1), world.program["id"]: (1, 1)}


async def test_a_visit_and_its_check_count_on_the_local_day_of_verification(
    world: World, clock: FrozenClock
) -> None:
    """Verified at 23:59 in Moscow and paid after midnight, the visit and its check both count on the day
    of verification; a visit verified at 00:30 Moscow time (21:30 UTC) counts on the next day."""
    clock.set(dt.datetime(2026, 11, 20, 20, 59, tzinfo=dt.UTC))
    late = await visit_of(world, world.member)
    clock.set(dt.datetime(2026, 11, 20, 21, 10, tzinfo=dt.UTC))
    body = receipt_body("ПОЛНОЧЬ-1", closed_at="2026-11-21T00:10:00+03:00")
    closed = await world.client.post(f"/v1/visits/{late}/receipt", json=body, headers=world.till)
    assert closed.status_code == 201, closed.text
    clock.set(dt.datetime(2026, 11, 20, 21, 30, tzinfo=dt.UTC))
    await visit_of(world, world.member)
    first = (await venue_stats(world)).json()
    assert figures(first) | {"date": first["by_day"][0]["date"]} == {
        "visits": 1,
        "unique_guests": 1,
        "receipts": 1,
        "visits_awaiting_check": 0,
        "check_sum_minor": TOTAL,
        "date": DAY,
    }
    second = (await venue_stats(world, **{"from": "2026-11-21", "to": "2026-11-21"})).json()
    assert (second["visits"], second["receipts"], second["visits_awaiting_check"]) == (1, 0, 1)


async def test_incremental_rollups_equal_a_rebuild_over_a_mix_of_visits(
    world: World, db: Database, clock: FrozenClock
) -> None:
    """Visits with and without receipts, partial and full refunds, a cancellation, over two days and two
    tiers: the rollups the flow kept are the rows a rebuild computes from visits and receipts."""
    gold = await builders.member(world.client, world.program, tier_code="gold", name="Пётр Иванов")
    clock.set(dt.datetime(2026, 11, 19, 18, 0, tzinfo=dt.UTC))
    early = await buy(world, gold, "Чек-1", closed_at="2026-11-19T21:00:00+03:00")
    await visit_of(world, world.member)  # never paid
    clock.set(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))
    await refund(world, early, 50_000)
    second = await buy(world, world.member, "Чек-2")
    await refund(world, second)  # in full
    await buy(world, gold, "чек-3")
    await visit_of(world, gold)  # awaiting its check
    dropped = await visit_of(world, world.member)
    cancelled = await world.client.post(
        f"/v1/visits/{dropped}/cancel", json={"reason": "Ошибка кассира"}, headers=world.till
    )
    assert cancelled.status_code == 200, cancelled.text
    kept = await rollup_rows(db)
    assert await rebuild(db, None) == 5
    assert await rollup_rows(db) == kept
    assert await rebuild(db, dt.date(2026, 11, 20)) == 3
    assert await rollup_rows(db) == kept
    both = (await venue_stats(world, **{"from": "2026-11-19", "to": DAY})).json()
    assert (both["visits"], both["receipts"], both["visits_awaiting_check"]) == (5, 2, 2)
    assert both["check_sum_minor"] == 3 * TOTAL - 50_000 - TOTAL
