"""items_per_check counts items by quantity, over receipts: 3 x a dish is 3 items, a weighed line one;
visits awaiting their check and receipts refunded in full do not dilute it; the upgrade recounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio.to_thread
import pytest
from sqlalchemy import column, insert, select, table
from sqlalchemy.sql.expression import TableClause

import hub.models  # noqa: F401  # every table on Base.metadata
from hub.db import Base, Database
from hub.db.migrate import downgrade, upgrade
from hub.flow.items import item_count
from tests.conftest import ADMIN
from tests.flow.conftest import World, receipt_body
from tests.stats.test_stats import DAY, refund, visit_of
from tests.test_migrations import fresh_url

__all__ = ["fresh_url"]  # the migrations' own empty-database fixture, used here too

Obj = dict[str, Any]
DISH = {"name": "Пельмени «Сибирские»", "category": "food", "quantity": 3, "unit_price_minor": 45_000}
WEIGHED = {"name": "Стейк", "category": "food", "quantity": 0.35, "unit_price_minor": 900_000}
TEA = {"name": "Чай", "category": "drinks", "quantity": 1, "unit_price_minor": 30_000}


@pytest.mark.parametrize(
    ("quantities_milli", "items"),
    [
        ([], 0),
        ([1000], 1),
        ([3000], 3),
        ([1000, 2000], 3),
        ([350], 1),  # 0.35 kg of steak is one item
        ([1500, 2000], 3),  # 1.5 l of lemonade is one item
        ([3000, 350, 1000], 5),
    ],
)
def test_items_of_a_check(quantities_milli: list[int], items: int) -> None:
    """Whole quantities count as themselves, a quantity sold by weight or volume as one item."""
    assert item_count(quantities_milli) == items


async def summary(world: World) -> Obj:
    url = f"/v1/programs/{world.program['id']}/summary"
    response = await world.client.get(url, params={"from": DAY, "to": DAY, "group_by": "day"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    total: Obj = response.json()["total"]
    return total


async def close(world: World, check_id: str, items: list[Obj]) -> str:
    visit_id = await visit_of(world, world.member)
    body = receipt_body(check_id, items=items)
    response = await world.client.post(f"/v1/visits/{visit_id}/receipt", json=body, headers=world.till)
    assert response.status_code == 201, response.text
    receipt_id: str = response.json()["receipt_id"]
    return receipt_id


async def test_three_of_one_dish_are_three_items_per_check(world: World) -> None:
    """One check of 3 x a dish and one of a weighed steak and a tea: (3 + 2) / 2 = 2.5 items per check,
    whatever visits still await their check; a check refunded in full takes its items away with it."""
    await close(world, "ЧЕК-3", [DISH])
    assert (await summary(world))["items_per_check"] == 3.0
    second = await close(world, "ЧЕК-2", [WEIGHED, TEA])
    await visit_of(world, world.member)  # awaiting its check
    total = await summary(world)
    assert (total["items_per_check"], total["purchase_count"], total["visits"]) == (2.5, 2, 3)
    await refund(world, second)
    assert (await summary(world))["items_per_check"] == 3.0


async def test_the_upgrade_recounts_kept_receipts_by_quantity(fresh_url: str) -> None:
    """A receipt kept from before the upgrade (item_count = its 2 lines) counts 4 items after it (3 + a
    weighed line), and 2 again after a downgrade; the rows referencing visits survive on SQLite too."""
    await _upgrade_to(fresh_url, "0010_merge")
    database = Database(fresh_url)
    try:
        async with database.transaction() as session:
            receipt_id = await _old_receipt(session, lines=[DISH | {"quantity": 3.0}, WEIGHED])
        assert await _items(database, receipt_id) == 2
        await _upgrade_to(fresh_url, "heads")
        assert await _items(database, receipt_id) == 4
        await _downgrade_to(fresh_url, "0010_merge")
        assert await _items(database, receipt_id) == 2
    finally:
        await database.dispose()


async def _upgrade_to(url: str, revision: str) -> None:
    """alembic runs its own event loop: in a worker thread, beside this test's."""
    await anyio.to_thread.run_sync(upgrade, url, revision)


async def _downgrade_to(url: str, revision: str) -> None:
    await anyio.to_thread.run_sync(downgrade, url, revision)


async def _items(database: Database, receipt_id: uuid.UUID) -> int:
    receipts = Base.metadata.tables["receipts"]
    async with database.sessionmaker() as session:
        found = await session.scalar(select(receipts.c.item_count).where(receipts.c.id == receipt_id))
    assert found is not None
    return int(found)


async def _old_receipt(session: Any, *, lines: list[Obj]) -> uuid.UUID:
    """A partner, venue, till, program, member, scan, closed visit and its receipt, as rows of 0010."""
    at = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    ids = {
        name: uuid.uuid4() for name in ("partner", "venue", "terminal", "program", "member", "scan", "visit")
    }
    stamps = {"created_at": at, "updated_at": at}
    rows: list[tuple[str, Obj]] = [
        ("partners", {"id": ids["partner"], "name": "Ресторатор"} | stamps),
        (
            "venues",
            {"id": ids["venue"], "partner_id": ids["partner"], "name": "Кафе «Пушкин»", "city": "Москва"}
            | {"district": "Арбат", "timezone": "Europe/Moscow"}
            | stamps,
        ),
        ("terminals", {"id": ids["terminal"], "venue_id": ids["venue"], "name": "Терминал №1"} | stamps),
        (
            "programs",
            {"id": ids["program"], "name": "Гастрокарта", "kind": "coalition", "currency": "RUB"}
            | {"card_rules": [], "pin_policy": {}, "sms_template": "", "fees": {}, "signing_public_keys": []}
            | stamps,
        ),
        (
            "members",
            {"id": ids["member"], "program_id": ids["program"], "card_number": "7700000000001"}
            | {"phone_ciphertext": b"\0", "phone_index": "i", "phone_masked": "+7***", "tier_code": "silver"}
            | {"status": "active", "bonus_balance_minor": 0}
            | stamps,
        ),
        (
            "scans",
            {"id": ids["scan"], "terminal_id": ids["terminal"], "venue_id": ids["venue"]}
            | {"program_id": ids["program"], "member_id": ids["member"], "matched_by": "prefix"}
            | {"status": "verified", "created_at": at},
        ),
        (
            "visits",
            {
                "id": ids["visit"],
                "scan_id": ids["scan"],
                "program_id": ids["program"],
                "member_id": ids["member"],
            }
            | {"venue_id": ids["venue"], "partner_id": ids["partner"], "terminal_id": ids["terminal"]}
            | {"tier_code": "silver", "discount_bp": 0, "excluded_categories": [], "perks": []}
            | {"coalition_funded_bp": 0, "status": "closed", "verified_at": at, "closed_at": at},
        ),
    ]
    receipt_id = uuid.uuid4()
    rows.append(
        (
            "receipts",
            {
                "id": receipt_id,
                "visit_id": ids["visit"],
                "venue_id": ids["venue"],
                "program_id": ids["program"],
            }
            | {"member_id": ids["member"], "check_id": "СТАРЫЙ-1", "request_hash": "", "currency": "RUB"}
            | {"closed_at": at, "subtotal_minor": 1, "discount_minor": 0, "bonus_spent_minor": 0}
            | {"bonus_accrued_minor": 0, "total_minor": 1, "item_count": len(lines), "lines": lines}
            | {"refunded_minor": 0, "refunded_discount_minor": 0, "created_at": at},
        )
    )
    for name, row in rows:
        await session.execute(insert(_only(name, row)).values(row))
    return receipt_id


def _only(name: str, row: Obj) -> TableClause:
    """The table with just the row's columns (typed as the models type them), so columns that later
    migrations add, and their Python-side defaults, are left out of the INSERT."""
    model = Base.metadata.tables[name]
    return table(name, *(column(key, model.c[key].type) for key in row))
