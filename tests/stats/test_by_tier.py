"""by_tier at a venue: one row per (program, tier), named as each program names its tier."""

from __future__ import annotations

from tests import builders
from tests.flow.conftest import World
from tests.stats.test_stats import venue_stats, visit_of


async def test_two_programs_gold_are_two_rows(world: World) -> None:
    """Gold of the coalition program and gold of a second program stay apart, each with its program and
    its own name for the tier; the figures of each are its own guests' only."""
    client = world.client
    second = await builders.program(
        client,
        card_rules=[{"type": "prefix", "value": "55"}],
        tiers=[{"code": "gold", "name": "Золотой «Гурман»", "discount_percent": 20}],
    )
    await builders.offer(client, second, at_partner=world.partner)
    ours = await builders.member(client, world.program, tier_code="gold")
    theirs = [
        await builders.member(client, second, card_number=f"550000000000{n}", tier_code="gold")
        for n in (1, 2)
    ]
    await visit_of(world, ours)
    for member in theirs:
        await visit_of(world, member)
    rows = (await venue_stats(world)).json()["by_tier"]
    assert [
        (r["program_id"], r["tier_code"], r["tier_name"], r["visits"], r["unique_guests"]) for r in rows
    ] == sorted(
        [
            (world.program["id"], "gold", "Gold", 1, 1),
            (second["id"], "gold", "Золотой «Гурман»", 2, 2),
        ],
        key=lambda row: {world.program["id"]: world.program["name"], second["id"]: second["name"]}[row[0]],
    )
    assert {r["program_name"] for r in rows} == {world.program["name"], second["name"]}
