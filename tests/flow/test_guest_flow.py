"""The guest flow over HTTP: scan → PIN by SMS → discount → receipt → refund, with its events."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from connectors.outbox import OutboxEvent
from hub.clock import FrozenClock
from hub.db import Database
from pin.models import PinChallenge
from tests import builders
from tests.conftest import ADMIN, error_of
from tests.flow.conftest import World, receipt_body


async def events(db: Database) -> list[OutboxEvent]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


async def test_full_flow_applies_the_partner_discount(world: World, db: Database) -> None:
    """A coalition card gets a PIN by SMS; the right PIN opens a visit with the partner's 10 %, food only."""
    scan = await world.scan()
    assert scan.status_code == 201, scan.text
    body = scan.json()
    assert body["status"] == "pin_required"
    assert body["program"]["id"] == world.program["id"]
    assert body.get("member") is None  # the PIN answer names the guest
    assert body["pin"]["destination_masked"].startswith("+7 *** ***-")
    message = world.gateway.recent()[0]
    assert message.to.startswith("+7916")
    verified = await world.client.post(
        f"/v1/scans/{body['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert verified.status_code == 200, verified.text
    discount = verified.json()["discount"]
    assert discount["percent"] == 10
    assert discount["excluded_categories"] == ["alcohol"]
    visit_id = verified.json()["visit_id"]
    receipt = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till
    )
    assert receipt.status_code == 201, receipt.text
    r = receipt.json()
    assert r["subtotal_minor"] == 250_000 + 180_000
    assert r["discount_minor"] == 25_000  # 10 % of the food only
    assert r["total_minor"] == 430_000 - 25_000
    assert [e.type for e in await events(db)] == ["visit.verified", "receipt.closed"]


async def test_the_pin_is_never_stored_in_clear(world: World, db: Database) -> None:
    """The challenge row holds an encrypted secret, not the code that was sent."""
    await world.scan()
    pin = world.last_pin()
    async with db.sessionmaker() as session:
        challenge = (await session.scalars(select(PinChallenge))).one()
    assert pin.encode() not in challenge.secret_ciphertext
    assert pin not in repr(challenge.__dict__)


async def test_dirty_scanner_input_is_recognised(world: World, clock: FrozenClock) -> None:
    """Spaces, a trailing newline, GS1 separators and an AIM prefix do not stop recognition."""
    card = world.member["card_number"]
    for dirty in (f"  {card}\n", f"]C1{card}", f"\x1d{card}\r\n", f"{card[:4]} {card[4:8]} {card[8:]}"):
        response = await world.scan(dirty)
        assert response.status_code == 201, (dirty, response.text)
        clock.advance(minutes=4)  # stay inside the card's SMS budget (3 per 10 minutes)


async def test_phone_number_finds_the_member(world: World) -> None:
    """A typed phone number is recognised through the member blind index."""
    member = await builders.member(world.client, world.program, phone="8 (903) 777-12-34")
    response = await world.scan("+7 903 777 12 34")
    assert response.status_code == 201, response.text
    assert world.gateway.recent()[0].to == "+79037771234"  # that member's PIN
    assert response.json()["pin"]["destination_masked"] == member["phone_masked"]


async def test_unknown_code_is_not_recognised(world: World) -> None:
    """A code of no program answers 422 card_not_recognized and writes nothing."""
    response = await world.scan("NOPE-123")
    assert response.status_code == 422
    assert error_of(response)["code"] == "card_not_recognized"
    assert world.gateway.recent() == []


async def test_blocked_member_is_refused(world: World) -> None:
    """A blocked member's card answers 403 member_blocked and sends no SMS."""
    patched = await world.client.patch(
        f"/v1/members/{world.member['id']}", json={"status": "blocked"}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    response = await world.scan()
    assert response.status_code == 403
    assert error_of(response)["code"] == "member_blocked"
    assert world.gateway.recent() == []


async def test_wrong_pin_counts_down_then_locks(world: World) -> None:
    """Each wrong PIN tells the attempts left; the fifth locks the challenge (423), even for the right PIN."""
    scan_id = (await world.scan()).json()["scan_id"]
    right = world.last_pin()
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = await world.client.post(
            f"/v1/scans/{scan_id}/pin", json={"pin": wrong}, headers=world.till
        )
        assert response.status_code == 422
        assert error_of(response) == {**error_of(response), "code": "pin_invalid"}
        assert error_of(response)["details"]["attempts_left"] == left
    fifth = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": wrong}, headers=world.till)
    assert fifth.status_code == 423
    after = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": right}, headers=world.till)
    assert after.status_code == 423
    assert error_of(after)["code"] == "pin_locked"


async def test_malformed_pins_are_rejected_before_any_comparison(world: World, db: Database) -> None:
    """Full-width digits, separators, numbers and spaces are 422 validation_failed and use no attempt."""
    scan_id = (await world.scan()).json()["scan_id"]
    full_width = "\uff11\uff12\uff13\uff14\uff15\uff16"
    for bad in (full_width, "123_456", 123456, " 123456", "12345", "1234567", "12345a"):
        response = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": bad}, headers=world.till)
        assert response.status_code == 422, bad
        assert error_of(response)["code"] == "validation_failed", bad
    async with db.sessionmaker() as session:
        assert (await session.scalars(select(PinChallenge.attempts))).one() == 0


async def test_expired_pin(world: World, clock: FrozenClock) -> None:
    """After five minutes the PIN answers 410 pin_expired; a resend brings a new one that works."""
    scan_id = (await world.scan()).json()["scan_id"]
    pin = world.last_pin()
    clock.advance(seconds=301)
    late = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": pin}, headers=world.till)
    assert late.status_code == 410
    assert error_of(late)["code"] == "pin_expired"
    resent = await world.client.post(f"/v1/scans/{scan_id}/pin/resend", headers=world.till)
    assert resent.status_code == 202, resent.text
    fresh = world.last_pin()
    ok = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": fresh}, headers=world.till)
    assert ok.status_code == 200, ok.text


async def test_resend_waits_30s_and_invalidates_the_old_pin(world: World, clock: FrozenClock) -> None:
    """A resend before 30 s is 429 with Retry-After; after it, the previous PIN no longer works."""
    scan_id = (await world.scan()).json()["scan_id"]
    old = world.last_pin()
    early = await world.client.post(f"/v1/scans/{scan_id}/pin/resend", headers=world.till)
    assert early.status_code == 429
    assert early.headers["retry-after"] == "31"
    clock.advance(seconds=31)
    assert (await world.client.post(f"/v1/scans/{scan_id}/pin/resend", headers=world.till)).status_code == 202
    new = world.last_pin()
    if new != old:  # one chance in a million that the two codes coincide
        stale = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": old}, headers=world.till)
        assert stale.status_code == 422
    ok = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": new}, headers=world.till)
    assert ok.status_code == 200


async def test_used_pin_answers_already_used(world: World) -> None:
    """The same right PIN twice: the second answer is 409 pin_already_used."""
    scan_id = (await world.scan()).json()["scan_id"]
    pin = world.last_pin()
    assert (
        await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": pin}, headers=world.till)
    ).status_code == 200
    again = await world.client.post(f"/v1/scans/{scan_id}/pin", json={"pin": pin}, headers=world.till)
    assert again.status_code == 409
    assert error_of(again)["code"] == "pin_already_used"


async def test_card_send_limit(world: World, clock: FrozenClock) -> None:
    """Three PIN sends per card in ten minutes; the fourth is 429 with Retry-After, later it works again."""
    for _ in range(3):
        assert (await world.scan()).status_code == 201
        clock.advance(seconds=10)
    fourth = await world.scan()
    assert fourth.status_code == 429
    assert error_of(fourth)["code"] == "rate_limited"
    assert int(fourth.headers["retry-after"]) > 0
    clock.advance(seconds=int(fourth.headers["retry-after"]))
    assert (await world.scan()).status_code == 201


async def test_scan_of_another_terminal_is_not_found(world: World) -> None:
    """A terminal cannot answer the PIN of another terminal's scan."""
    scan_id = (await world.scan()).json()["scan_id"]
    other = await builders.terminal(world.client, world.venue)
    response = await world.client.post(
        f"/v1/scans/{scan_id}/pin",
        json={"pin": world.last_pin()},
        headers={"Authorization": f"Bearer {other['api_key']}"},
    )
    assert response.status_code == 404


async def test_receipt_is_idempotent_on_check_id(world: World, db: Database) -> None:
    """The same receipt again answers 200 with the same body; another body with that check_id is 409."""
    visit_id = await world.verified_visit()
    first = await world.client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
    again = await world.client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body(staff="Someone else"), headers=world.till
    )
    assert other.status_code == 409
    assert error_of(other)["code"] == "receipt_conflict"
    assert [e.type for e in await events(db)].count("receipt.closed") == 1


async def test_a_check_number_used_on_another_visit_is_a_conflict(world: World, db: Database) -> None:
    """(venue, check_id) is the receipt's identity: another open visit posting a used check number with
    another body is 409 receipt_conflict, writes nothing, and that visit stays open for its own check."""
    first_visit = await world.verified_visit()
    first = await world.client.post(
        f"/v1/visits/{first_visit}/receipt", json=receipt_body(), headers=world.till
    )
    assert first.status_code == 201, first.text
    second_visit = await world.verified_visit()
    clash = await world.client.post(
        f"/v1/visits/{second_visit}/receipt", json=receipt_body(staff="Someone else"), headers=world.till
    )
    assert clash.status_code == 409
    assert error_of(clash)["code"] == "receipt_conflict"
    assert [e.type for e in await events(db)].count("receipt.closed") == 1
    own = await world.client.post(
        f"/v1/visits/{second_visit}/receipt", json=receipt_body("CHK-2"), headers=world.till
    )
    assert own.status_code == 201, own.text


async def test_a_visit_takes_one_receipt(world: World) -> None:
    """A second check on the same visit is refused: scan again for a new visit."""
    visit_id = await world.verified_visit()
    assert (
        await world.client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body("A"), headers=world.till)
    ).status_code == 201
    second = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body("B"), headers=world.till
    )
    assert second.status_code == 409
    assert error_of(second)["code"] == "visit_closed"


async def test_quote_changes_nothing(world: World, db: Database) -> None:
    """A quote answers the discount the receipt would get and writes nothing."""
    visit_id = await world.verified_visit()
    before = len(await events(db))
    body = receipt_body()
    body.pop("check_id")
    quote = await world.client.post(f"/v1/visits/{visit_id}/quote", json=body, headers=world.till)
    assert quote.status_code == 200, quote.text
    assert quote.json()["discount_minor"] == 25_000
    assert len(await events(db)) == before
    receipt = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till
    )
    assert receipt.json()["discount_minor"] == quote.json()["discount_minor"]


async def test_refund_reverses_the_discount_share(world: World, db: Database) -> None:
    """A partial refund reverses its share of the discount; more than what is left is refused."""
    visit_id = await world.verified_visit()
    receipt = (
        await world.client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
    ).json()
    total = receipt["total_minor"]
    half = await world.client.post(
        f"/v1/receipts/{receipt['receipt_id']}/refund",
        json={"amount_minor": total // 2, "reason": "cold soup"},
        headers=world.till,
    )
    assert half.status_code == 201, half.text
    assert half.json()["discount_reversed_minor"] == 12_500
    too_much = await world.client.post(
        f"/v1/receipts/{receipt['receipt_id']}/refund",
        json={"amount_minor": total, "reason": "x"},
        headers=world.till,
    )
    assert too_much.status_code == 422
    rest = await world.client.post(
        f"/v1/receipts/{receipt['receipt_id']}/refund", json={"reason": "all"}, headers=world.till
    )
    assert rest.json()["amount_minor"] == total - total // 2
    assert [e.type for e in await events(db)][-2:] == ["receipt.refunded", "receipt.refunded"]


async def test_no_offer_means_verified_without_discount(client: httpx.AsyncClient, app: object) -> None:
    """A coalition card at a venue with no offer is verified, with 0 % discount."""
    program = await builders.program(client, card_rules=[{"type": "prefix", "value": "55"}])
    venue = await builders.venue(client, await builders.partner(client))
    till = {"Authorization": f"Bearer {(await builders.terminal(client, venue))['api_key']}"}
    member = await builders.member(client, program, card_number="5500000000001")
    scan = await client.post("/v1/scans", json={"code": member["card_number"]}, headers=till)
    assert scan.status_code == 201, scan.text
    gateway = app.state.flow.gateway  # type: ignore[attr-defined]
    pin = gateway.recent()[0].text.split()[0]
    verified = await client.post(f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": pin}, headers=till)
    assert verified.status_code == 200, verified.text
    assert verified.json()["discount"]["percent"] == 0
    assert verified.json()["discount"]["offer_id"] is None


async def test_only_terminals_scan(world: World) -> None:
    """An admin key cannot scan: the guest flow belongs to terminals."""
    response = await world.scan(headers=ADMIN)
    assert response.status_code == 403


async def test_visit_events_carry_no_phone_in_clear(world: World, db: Database) -> None:
    """The visit.verified envelope holds no phone; the phone is stored encrypted beside it."""
    await world.verified_visit()
    (event,) = [e for e in await events(db) if e.type == "visit.verified"]
    assert "phone" not in str(event.envelope)
    assert event.personal_ciphertext is not None
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count(OutboxEvent.id))) == 1


async def test_partial_refunds_reverse_exactly_the_whole_discount(world: World) -> None:
    """Refunding a receipt in odd pieces reverses, in sum, exactly its discount (no kopeck lost)."""
    visit_id = await world.verified_visit()
    body = receipt_body(
        "ODD", items=[{"name": "Set", "category": "food", "quantity": 1, "unit_price_minor": 11_230}]
    )
    receipt = (
        await world.client.post(f"/v1/visits/{visit_id}/receipt", json=body, headers=world.till)
    ).json()
    total, reversed_sum = receipt["total_minor"], 0
    for amount in (1, 1, total - 2):
        refund = await world.client.post(
            f"/v1/receipts/{receipt['receipt_id']}/refund",
            json={"amount_minor": amount, "reason": "odd"},
            headers=world.till,
        )
        assert refund.status_code == 201, refund.text
        reversed_sum += refund.json()["discount_reversed_minor"]
    assert reversed_sum == receipt["discount_minor"] == 1_123
