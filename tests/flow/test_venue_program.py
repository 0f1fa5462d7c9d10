"""The venue's own card: no PIN, its tier's discount, bonus accrual and payment, auto-promotion."""

from __future__ import annotations

import time
from typing import Any

from tests import builders
from tests.conftest import ADMIN, error_of
from tests.connectors.iiko_server import API_LOGIN, ORGANIZATION_ID, Customer, IikoServer
from tests.flow.conftest import World, receipt_body

MEMBER_PHONE = "+79035550199"
TIERS = [
    {
        "code": "base",
        "name": "Base",
        "discount_percent": 5,
        "bonus_percent": 5,
        "max_bonus_payment_percent": 30,
    },
    {
        "code": "vip",
        "name": "VIP",
        "discount_percent": 10,
        "bonus_percent": 10,
        "max_bonus_payment_percent": 50,
        "welcome_bonus_minor": 100_000,
        "promote_when": {"metric": "spent", "over": 500_000, "period_days": 365},
    },
]


async def _venue_card(world: World) -> dict[str, Any]:
    program = await builders.program(
        world.client,
        kind="venue",
        owner=world.partner,
        card_rules=[{"type": "prefix", "value": "99"}],
        tiers=TIERS,
    )
    return await builders.member(
        world.client, program, card_number="9900000000001", tier_code="base", phone=MEMBER_PHONE
    )


def _food(check_id: str, price_minor: int, **fields: Any) -> dict[str, Any]:
    items = [{"name": "Set", "category": "food", "quantity": 1, "unit_price_minor": price_minor}]
    return receipt_body(check_id, items=items, **fields)


async def test_venue_card_opens_a_visit_without_pin(world: World) -> None:
    """A venue program card answers venue_loyalty with the visit at once and the tier's terms; no SMS."""
    member = await _venue_card(world)
    scan = await world.scan(member["card_number"])
    assert scan.status_code == 201, scan.text
    body = scan.json()
    assert body["status"] == "venue_loyalty"
    assert body["visit_id"]
    assert body["loyalty"] == {
        "tier_code": "base",
        "tier_name": "Base",
        "discount_percent": 5.0,
        "bonus_percent": 5.0,
        "bonus_balance_minor": 0,
        "max_bonus_payment_percent": 30.0,
        "source": "hub",
        "note": None,
    }
    assert world.gateway.recent() == []


async def test_bonus_accrues_then_pays_part_of_a_check(world: World) -> None:
    """Receipts accrue bonus on what was paid; later part of a check is paid by bonus, capped by the tier."""
    member = await _venue_card(world)
    visit = (await world.scan(member["card_number"])).json()["visit_id"]
    first = await world.client.post(
        f"/v1/visits/{visit}/receipt", json=_food("V1", 200_000), headers=world.till
    )
    assert first.status_code == 201, first.text
    assert first.json()["discount_minor"] == 10_000
    assert first.json()["bonus_accrued_minor"] == 9_500  # 5 % of 190 000
    visit = (await world.scan(member["card_number"])).json()["visit_id"]
    quote_body = _food("Q", 20_000)
    quote_body.pop("check_id")
    quote = await world.client.post(f"/v1/visits/{visit}/quote", json=quote_body, headers=world.till)
    assert quote.json()["bonus_payable_minor"] == 5_700  # 30 % of 19 000, below the 9 500 balance
    too_much = await world.client.post(
        f"/v1/visits/{visit}/receipt",
        json=_food("V2", 20_000, pay_with_bonus_minor=5_701),
        headers=world.till,
    )
    assert too_much.status_code == 422
    assert error_of(too_much)["code"] == "bonus_not_available"
    paid = await world.client.post(
        f"/v1/visits/{visit}/receipt",
        json=_food("V2", 20_000, pay_with_bonus_minor=5_700),
        headers=world.till,
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["bonus_spent_minor"] == 5_700
    assert paid.json()["total_minor"] == 19_000 - 5_700
    assert paid.json()["bonus_accrued_minor"] == 665  # 5 % of 13 300 paid in money


async def test_spending_past_the_threshold_promotes_with_a_welcome_bonus(world: World) -> None:
    """Spending over 5 000 ₽ in a year moves the guest to VIP and grants its welcome bonus."""
    member = await _venue_card(world)
    visit = (await world.scan(member["card_number"])).json()["visit_id"]
    receipt = await world.client.post(
        f"/v1/visits/{visit}/receipt", json=_food("BIG", 600_000), headers=world.till
    )
    assert receipt.json()["tier_code"] == "vip"
    loyalty = (await world.scan(member["card_number"])).json()["loyalty"]
    assert loyalty["tier_code"] == "vip"
    assert loyalty["bonus_balance_minor"] == 28_500 + 100_000  # 5 % of 570 000, plus the welcome bonus


async def test_other_partners_venue_cards_mean_nothing_here(world: World) -> None:
    """A venue program of another partner is not recognised at this venue."""
    other = await builders.partner(world.client)
    program = await builders.program(
        world.client,
        kind="venue",
        owner=other,
        card_rules=[{"type": "prefix", "value": "88"}],
        tiers=TIERS[:1],
    )
    member = await builders.member(world.client, program, card_number="8800000000001")
    response = await world.scan(member["card_number"])
    assert response.status_code == 422
    assert error_of(response)["code"] == "card_not_recognized"


async def test_code_of_two_programs_is_resolved_by_the_venue(world: World) -> None:
    """A card known to the coalition (offer here) and to another partner's program goes to the coalition."""
    other = await builders.partner(world.client)
    program = await builders.program(
        world.client,
        kind="venue",
        owner=other,
        card_rules=[{"type": "prefix", "value": "77"}],
        tiers=TIERS[:1],
    )
    await builders.member(world.client, program, card_number=world.member["card_number"])
    response = await world.scan()
    assert response.status_code == 201, response.text
    assert response.json()["program"]["id"] == world.program["id"]


async def test_truly_ambiguous_code(world: World) -> None:
    """Two coalition programs with offers here both know the card: 409 card_ambiguous lists them."""
    second = await builders.program(world.client, card_rules=[{"type": "prefix", "value": "77"}])
    await builders.offer(world.client, second, at_venue=world.venue)
    await builders.member(world.client, second, card_number=world.member["card_number"])
    response = await world.scan()
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "card_ambiguous"
    assert {c["program_id"] for c in error["details"]["candidates"]} == {world.program["id"], second["id"]}


async def test_manual_tier_change_is_refused_under_auto_promotion(world: World) -> None:
    """With auto-promotion on, PATCHing a member's tier is 409 tier_auto_promoted and changes nothing."""
    from tests.conftest import ADMIN

    member = await _venue_card(world)
    response = await world.client.patch(
        f"/v1/members/{member['id']}", json={"tier_code": "vip"}, headers=ADMIN
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "tier_auto_promoted"
    again = await world.client.get(f"/v1/members/{member['id']}", headers=ADMIN)
    assert again.json()["tier_code"] == "base"


async def test_delegated_venue_program_answers_from_iiko(world: World) -> None:
    """A venue program delegated to the venue's iiko shows iiko's category and bonus balance on scan."""
    member = await _venue_card(world)
    iiko = IikoServer(now=time.time)
    await iiko.start()
    try:
        category = iiko.add_category("Gold guest")
        wallet = iiko.add_wallet("Bonuses")
        iiko.customers["c1"] = Customer(
            id="c1", phone=MEMBER_PHONE, categories=[category], wallets={wallet: 123.45}
        )
        created = await world.client.post(
            "/v1/connectors",
            json={
                "name": "our iiko",
                "kind": "iiko",
                "owner": {"venue_id": world.venue["id"]},
                "url": iiko.url,
                "auth": {
                    "type": "iiko_api_login",
                    "api_login": API_LOGIN,
                    "organization_id": ORGANIZATION_ID,
                },
                "settings": {"loyalty_program_id": member["program_id"]},
            },
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        scan = await world.scan(member["card_number"])
        assert scan.status_code == 201, scan.text
        loyalty = scan.json()["loyalty"]
        assert loyalty["source"] == "iiko"
        assert loyalty["tier_name"] == "Gold guest"
        assert loyalty["bonus_balance_minor"] == 12_345
        assert any(call.path.endswith("/customer/info") for call in iiko.calls)
    finally:
        await iiko.close()
