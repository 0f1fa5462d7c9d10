"""Receipts, quotes and refunds: the money of one check is right in every case."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.audit.models import AuditEntry
from hub.auth import ApiKey
from hub.db import Database
from hub.flow.models import Visit
from partners.rules import div_half_up
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.connectors.iiko_server import API_LOGIN, ORGANIZATION_ID, Customer, IikoServer
from tests.flow.conftest import World, receipt_body


async def visit_of(world: World, card_number: str) -> str:
    """A verified coalition visit of this card at the world's till."""
    scan = await world.scan(card_number)
    assert scan.status_code == 201, scan.text
    verified = await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert verified.status_code == 200, verified.text
    visit_id: str = verified.json()["visit_id"]
    return visit_id


async def post_receipt(world: World, visit_id: str, body: dict[str, Any]) -> Any:
    return await world.client.post(f"/v1/visits/{visit_id}/receipt", json=body, headers=world.till)


# ---- item: a check belongs to one visit ----


async def test_the_same_check_on_another_guests_visit_is_a_conflict(world: World, db: Database) -> None:
    """The same check_id and body posted to a second guest's visit is 409 receipt_conflict, not the first
    guest's receipt; the second visit stays open and takes its own check."""
    first_visit = await world.verified_visit()
    first = await post_receipt(world, first_visit, receipt_body("ЧЕК-Один"))
    assert first.status_code == 201, first.text
    other = await builders.member(world.client, world.program, name="Ольга Иванова")
    second_visit = await visit_of(world, other["card_number"])
    clash = await post_receipt(world, second_visit, receipt_body("ЧЕК-Один"))
    assert clash.status_code == 409, clash.text
    error = error_of(clash)
    assert error["code"] == "receipt_conflict"
    assert error["details"]["visit_id"] == first_visit
    async with db.sessionmaker() as session:
        visit = await session.scalar(select(Visit).where(Visit.id == uuid.UUID(second_visit)))
    assert visit is not None
    assert (visit.status, visit.closed_at) == ("open", None)
    own = await post_receipt(world, second_visit, receipt_body("ЧЕК-Два"))
    assert own.status_code == 201, own.text


# ---- item: the quote prices a check as its receipt does ----

VENUE_TIERS = [
    {
        "code": "base",
        "name": "Базовый",
        "discount_percent": 5,
        "bonus_percent": 7,
        "max_bonus_payment_percent": 30,
    },
    {
        "code": "vip",
        "name": "VIP Гость",
        "discount_percent": 12.5,
        "bonus_percent": 10,
        "max_bonus_payment_percent": 50,
        "welcome_bonus_minor": 50_000,
        "promote_when": {"metric": "spent", "over": 400_000, "period_days": 365},
    },
]
_checks = itertools.count(1)
VENUE_PHONE = "+79035550177"


async def venue_card(world: World, balance_minor: int = 0) -> dict[str, Any]:
    """A member of a venue program of the world's partner (bonus, tier discount, auto-promotion)."""
    program = await builders.program(
        world.client,
        kind="venue",
        owner=world.partner,
        card_rules=[{"type": "prefix", "value": "99"}],
        tiers=VENUE_TIERS,
    )
    member = await builders.member(
        world.client, program, card_number="9900000000001", tier_code="base", phone=VENUE_PHONE
    )
    member["phone_e164"] = VENUE_PHONE
    if balance_minor:
        visit = (await world.scan(member["card_number"])).json()["visit_id"]
        price = div_half_up(balance_minor * 10_000, 7 * 95)  # 7 % bonus on the 95 % left after 5 %
        seed = receipt_body("SEED", items=[{"name": "Сет", "quantity": 1, "unit_price_minor": price}])
        assert (await post_receipt(world, visit, seed)).status_code == 201
    return member


items_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Борщ", "Steak", "Вино Barolo"]),
            "category": st.sampled_from(["food", "alcohol", "Alcohol", None]),
            "quantity": st.sampled_from([0.001, 0.5, 1, 1.25, 3]),
            "unit_price_minor": st.integers(min_value=0, max_value=2_000_000),
        }
    ),
    min_size=1,
    max_size=4,
)
FIGURES = ("subtotal_minor", "discount_minor", "bonus_spent_minor", "bonus_accrued_minor", "total_minor")


async def quote_then_receipt(world: World, visit_id: str, body: dict[str, Any]) -> tuple[Any, Any]:
    quote_body = {k: v for k, v in body.items() if k != "check_id"}
    quote = await world.client.post(f"/v1/visits/{visit_id}/quote", json=quote_body, headers=world.till)
    receipt = await post_receipt(world, visit_id, body)
    return quote, receipt


def same_answer(quote: Any, receipt: Any) -> None:
    """A quote and its receipt agree: the same figures and lines, or the same refusal."""
    if receipt.status_code == 201:
        assert quote.status_code == 200, quote.text
        assert {k: quote.json()[k] for k in FIGURES} == {k: receipt.json()[k] for k in FIGURES}
        assert quote.json()["lines"] == receipt.json()["lines"]
    else:
        assert (quote.status_code, error_of(quote)["code"]) == (
            receipt.status_code,
            error_of(receipt)["code"],
        )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=items_strategy, share=st.sampled_from([0, 0.3, 0.999, 1, 1.01]))
async def test_a_venue_quote_and_its_receipt_agree(
    world: World, items: list[dict[str, Any]], share: float
) -> None:
    """For any check and bonus payment, a venue card's quote gives the receipt's discount, bonus paid,
    bonus accrued and total (or the receipt's refusal)."""
    card = world.__dict__.setdefault("venue_card", None) or await venue_card(world, 20_000)
    world.__dict__["venue_card"] = card
    visit_id = (await world.scan(card["card_number"])).json()["visit_id"]
    probe = await world.client.post(
        f"/v1/visits/{visit_id}/quote", json={"currency": "RUB", "items": items}, headers=world.till
    )
    assert probe.status_code == 200, probe.text
    spend = int(probe.json()["bonus_payable_minor"] * share)
    if share > 1:
        spend += 1
    body = receipt_body(f"V-{next(_checks)}", items=items, pay_with_bonus_minor=spend)
    quote, receipt = await quote_then_receipt(world, visit_id, body)
    same_answer(quote, receipt)
    if receipt.status_code == 201:
        assert receipt.json()["bonus_spent_minor"] == spend
        assert receipt.json()["total_minor"] == probe.json()["total_minor"] - spend


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=items_strategy, spend=st.sampled_from([0, 0, 1]))
async def test_a_coalition_quote_and_its_receipt_agree(
    world: World, items: list[dict[str, Any]], spend: int
) -> None:
    """For any check, a coalition quote gives the receipt's figures (excluded categories, the cap), and a
    bonus payment is refused by both alike."""
    guest = await builders.member(world.client, world.program, name="Гость Тестовый")
    visit_id = await visit_of(world, guest["card_number"])  # a guest per example: PIN send limits
    body = receipt_body(f"C-{next(_checks)}", items=items, pay_with_bonus_minor=spend)
    quote, receipt = await quote_then_receipt(world, visit_id, body)
    same_answer(quote, receipt)


async def test_a_quote_with_bonus_shows_the_money_left_to_pay_and_the_bonus_earned(world: World) -> None:
    """Paying 5 700 of a 20 000 check (19 000 after 5 %) by bonus: the quote's total is 13 300 and it shows
    the 931 (7 %) the money part earns, as the receipt does."""
    card = await venue_card(world, 20_000)
    visit_id = (await world.scan(card["card_number"])).json()["visit_id"]
    body = receipt_body(
        "Q-1",
        items=[{"name": "Сет дня", "quantity": 1, "unit_price_minor": 20_000}],
        pay_with_bonus_minor=5_700,
    )
    quote, receipt = await quote_then_receipt(world, visit_id, body)
    assert quote.status_code == 200, quote.text
    assert quote.json()["total_minor"] == 19_000 - 5_700
    assert quote.json()["bonus_accrued_minor"] == 931  # 7 % of 13 300
    same_answer(quote, receipt)


async def test_a_quote_on_a_closed_visit_is_visit_closed(world: World) -> None:
    """Once its receipt is in, the visit is quoted no more: 409 visit_closed."""
    visit_id = await world.verified_visit()
    assert (await post_receipt(world, visit_id, receipt_body("ЗАКРЫТ-1"))).status_code == 201
    body = receipt_body()
    body.pop("check_id")
    quote = await world.client.post(f"/v1/visits/{visit_id}/quote", json=body, headers=world.till)
    assert quote.status_code == 409, quote.text
    assert error_of(quote)["code"] == "visit_closed"


# ---- item: a refund gives back what the check took ----


async def balance_of(world: World, card: dict[str, Any]) -> int:
    """The venue card's bonus balance, as a scan shows it (the scan opens a visit, left open)."""
    scan = await world.scan(card["card_number"])
    assert scan.status_code == 201, scan.text
    balance: int = scan.json()["loyalty"]["bonus_balance_minor"]
    return balance


async def paid_partly_by_bonus(world: World, card: dict[str, Any], check_id: str) -> dict[str, Any]:
    visit_id = (await world.scan(card["card_number"])).json()["visit_id"]
    body = receipt_body(
        check_id,
        items=[{"name": "Ужин на двоих", "quantity": 1, "unit_price_minor": 20_000}],
        pay_with_bonus_minor=5_700,
    )
    receipt = await post_receipt(world, visit_id, body)
    assert receipt.status_code == 201, receipt.text
    answer: dict[str, Any] = receipt.json()
    assert (answer["bonus_spent_minor"], answer["bonus_accrued_minor"]) == (5_700, 931)
    return answer


async def test_a_full_refund_returns_the_bonus_paid_with_the_check(world: World) -> None:
    """A full refund of a check paid with 5 700 of bonus gives the 5 700 back and takes back the 931 it
    earned: the balance is what it was before the check."""
    card = await venue_card(world, 20_000)
    before = await balance_of(world, card)
    receipt = await paid_partly_by_bonus(world, card, "БОНУС-1")
    assert await balance_of(world, card) == before - 5_700 + 931
    refund = await world.client.post(
        f"/v1/receipts/{receipt['receipt_id']}/refund",
        json={"reason": "Гость вернул блюдо"},
        headers=world.till,
    )
    assert refund.status_code == 201, refund.text
    answer = refund.json()
    assert answer["amount_minor"] == receipt["total_minor"] == 13_300
    assert (answer["bonus_returned_minor"], answer["bonus_reversed_minor"]) == (5_700, 931)
    assert answer["discount_reversed_minor"] == receipt["discount_minor"]
    assert await balance_of(world, card) == before


async def test_partial_refunds_return_the_bonus_in_proportion_and_add_up(world: World) -> None:
    """Refunding a bonus-paid check in odd pieces returns the paid and earned bonus in proportion; in sum
    exactly the full refund's, so the balance ends where it began."""
    card = await venue_card(world, 20_000)
    before = await balance_of(world, card)
    receipt = await paid_partly_by_bonus(world, card, "БОНУС-2")
    returned = reversed_ = 0
    for amount in (1, 4_432, None):
        body: dict[str, Any] = {"reason": "частичный возврат"}
        if amount is not None:
            body["amount_minor"] = amount
        refund = await world.client.post(
            f"/v1/receipts/{receipt['receipt_id']}/refund", json=body, headers=world.till
        )
        assert refund.status_code == 201, refund.text
        returned += refund.json()["bonus_returned_minor"]
        reversed_ += refund.json()["bonus_reversed_minor"]
    assert (returned, reversed_) == (5_700, 931)
    assert await balance_of(world, card) == before


# ---- item: who may refund ----


async def test_the_venue_its_partner_and_an_admin_refund_audited_with_the_actor(
    world: World, db: Database
) -> None:
    """Besides the till, the venue's key, its partner's and an admin's refund a receipt; each refund is in
    the audit log with the key's role and id."""
    visit_id = await world.verified_visit()
    receipt = (await post_receipt(world, visit_id, receipt_body("Возврат-1"))).json()
    keys = {
        "venue": await builders.key(world.client, "venue", venue_id=world.venue["id"]),
        "partner": await builders.key(world.client, "partner", partner_id=world.partner["id"]),
        "admin": await builders.key(world.client, "admin"),
    }
    for role, key in keys.items():
        refund = await world.client.post(
            f"/v1/receipts/{receipt['receipt_id']}/refund",
            json={"amount_minor": 1_000, "reason": f"Возврат ({role})"},
            headers=bearer(key),
        )
        assert refund.status_code == 201, (role, refund.text)
    async with db.sessionmaker() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "receipt.refund").order_by(AuditEntry.seq)
            )
        )
        listed = {k.id: k.role for k in await session.scalars(select(ApiKey))}
    assert [e.actor_role for e in entries] == ["venue", "partner", "admin"]
    assert [listed[e.actor_key_id] for e in entries if e.actor_key_id] == ["venue", "partner", "admin"]
    assert {e.target_id for e in entries} == {receipt["receipt_id"]}


async def test_other_tenants_may_not_refund(world: World) -> None:
    """Another venue's and another partner's keys get 404 on this receipt, a concierge 403; nothing is
    refunded."""
    visit_id = await world.verified_visit()
    receipt = (await post_receipt(world, visit_id, receipt_body("Возврат-2"))).json()
    other_partner = await builders.partner(world.client, name="Другой партнёр")
    other_venue = await builders.venue(world.client, other_partner)
    other_till = (await builders.terminal(world.client, other_venue))["api_key"]
    refused = {
        "terminal": (other_till, 404),
        "venue": (await builders.key(world.client, "venue", venue_id=other_venue["id"]), 404),
        "partner": (await builders.key(world.client, "partner", partner_id=other_partner["id"]), 404),
        "concierge": (await builders.key(world.client, "concierge", program_ids=[world.program["id"]]), 403),
    }
    for role, (key, status) in refused.items():
        refund = await world.client.post(
            f"/v1/receipts/{receipt['receipt_id']}/refund", json={"reason": "чужой"}, headers=bearer(key)
        )
        assert refund.status_code == status, (role, refund.text)
        assert receipt["receipt_id"] not in refund.text
    whole = await world.client.post(
        f"/v1/receipts/{receipt['receipt_id']}/refund", json={"reason": "свой"}, headers=world.till
    )
    assert whole.json()["amount_minor"] == receipt["total_minor"]


# ---- item: closed_at lies within the visit ----


@pytest.mark.parametrize(
    ("closed_at", "accepted"),
    [
        ("2026-11-20T11:55:00Z", True),  # 5 minutes before the verification: clock skew
        ("2026-11-20T11:54:59Z", False),
        ("2026-11-20T15:05:00+03:00", True),  # 5 minutes after now
        ("2026-11-20T15:05:01+03:00", False),
        ("2025-11-20T12:00:00Z", False),
        ("2026-12-20T12:00:00Z", False),
    ],
)
async def test_closed_at_lies_between_the_verification_and_now(
    world: World, db: Database, closed_at: str, *, accepted: bool
) -> None:
    """A check closed more than 5 minutes before its visit was verified, or after now (5 minutes of skew),
    is 422 closed_at_out_of_range with the allowed range, and changes nothing; the quote says the same."""
    visit_id = await world.verified_visit()
    body = receipt_body("Время-1", closed_at=closed_at)
    quote, receipt = await quote_then_receipt(world, visit_id, body)
    same_answer(quote, receipt)
    if accepted:
        assert receipt.status_code == 201, receipt.text
        return
    assert receipt.status_code == 422, receipt.text
    error = error_of(receipt)
    assert error["code"] == "closed_at_out_of_range"
    assert error["details"] == {
        "field": "closed_at",
        "earliest": "2026-11-20T11:55:00Z",
        "latest": "2026-11-20T12:05:00Z",
    }
    async with db.sessionmaker() as session:
        visit = await session.scalar(select(Visit).where(Visit.id == uuid.UUID(visit_id)))
    assert visit is not None
    assert visit.status == "open"


# ---- item: an iiko-delegated card shows iiko's tier only ----


async def test_a_delegated_card_shows_iikos_tier_and_no_hub_tier_code(world: World) -> None:
    """When the venue's iiko answers for a delegated venue program, the scan shows iiko's category as the
    tier and no hub tier code beside it (neither in loyalty nor in member)."""
    card = await venue_card(world)
    iiko = IikoServer(now=time.time)
    await iiko.start()
    try:
        category = iiko.add_category("Золотой гость")
        wallet = iiko.add_wallet("Бонусы")
        iiko.customers["c1"] = Customer(
            id="c1", phone=card["phone_e164"], categories=[category], wallets={wallet: 10}
        )
        created = await world.client.post(
            "/v1/connectors",
            json={
                "name": "Наш iiko",
                "kind": "iiko",
                "owner": {"venue_id": world.venue["id"]},
                "url": iiko.url,
                "auth": {
                    "type": "iiko_api_login",
                    "api_login": API_LOGIN,
                    "organization_id": ORGANIZATION_ID,
                },
                "settings": {"loyalty_program_id": card["program_id"]},
            },
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        scan = (await world.scan(card["card_number"])).json()
    finally:
        await iiko.close()
    assert scan["loyalty"]["source"] == "iiko"
    assert (scan["loyalty"]["tier_name"], scan["loyalty"]["tier_code"]) == ("Золотой гость", None)
    assert scan["member"]["tier_code"] is None
    assert scan["loyalty"]["bonus_balance_minor"] == 1_000
