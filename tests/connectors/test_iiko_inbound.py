"""iiko orders coming back: the webhook wire, the pure order mapping, the four calls against the stand-in."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import OutcomeUnknownError, PermanentError, TransientError
from connectors.iiko import IikoPayloadError, IikoRefusedError, IikoTokenFetcher, mapping, wire
from connectors.iiko.client import IikoClient
from hub.clock import UTC, FrozenClock
from tests.connectors import iiko_server
from tests.connectors.iiko_server import IikoServer, discount, modifier, product
from tests.connectors.test_iiko import MemoryTokenSource, make_connector

ORG = iiko_server.ORGANIZATION_ID
MOSCOW, BERLIN = "Europe/Moscow", "Europe/Berlin"
TIMEOUT, GRACE = 1, 0.3
BORSCH_POSITION = "0b7f7a56-3c1e-4f0e-9b8e-5d2c1a0f9e01"
DUMPLINGS_POSITION = "0b7f7a56-3c1e-4f0e-9b8e-5d2c1a0f9e02"
PARTNER_DISCOUNT = "5e1d0c2b-7a6f-4e3d-8c9b-0a1f2e3d4c5b"
CUSTOMER_ID = "c0ffee00-1234-4abc-9def-0123456789ab"


# --- a realistic closed table order, as iiko writes it ---------------------------------------


def _named(name: str) -> dict[str, str]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)), "name": name}


def _item(name: str, amount: float, price: float, cost: float, result: float, **extra: Any) -> dict[str, Any]:
    base = {"type": "Product", "product": _named(name), "amount": amount, "price": price, "cost": cost}
    base |= {"resultSum": result, "pricePredefined": False, "status": "Served", "deleted": None}
    return (
        base
        | {"positionId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "modifiers": [], "taxPercent": None}
        | extra
    )


def closed_order() -> dict[str, Any]:
    """Борщ, Пельмени with a paid and a free modifier, Кисель, and a deleted Компот; Партнёр 10% on all."""
    sour_cream = {"product": _named("Сметана"), "amount": 1, "amountIndependentOfParentAmount": False}
    sour_cream |= {"price": 50.0, "pricePredefined": False, "resultSum": 90.0, "deleted": None}
    no_onion = {"product": _named("Без лука"), "amount": 1, "amountIndependentOfParentAmount": True}
    no_onion |= {"price": 0.0, "pricePredefined": False, "resultSum": 0.0, "deleted": None}
    deleted = {"deletionMethod": {"id": "d1", "comment": "гость передумал", "removalType": _named("Ошибка")}}
    items = [
        _item("Борщ", 1, 450.0, 450.0, 405.0, positionId=BORSCH_POSITION),
        _item(
            "Пельмени",
            2,
            520.0,
            1040.0,
            936.0,
            positionId=DUMPLINGS_POSITION,
            modifiers=[sour_cream, no_onion],
        ),
        _item("Кисель клюквенный", 3, 184.55, 553.65, 498.28),
        _item("Компот", 1, 150.0, 150.0, 150.0, deleted=deleted),
    ]
    return {
        "tableIds": ["5a0e8400-e29b-41d4-a716-446655440000"],
        "customer": {"type": "regular", "id": CUSTOMER_ID, "name": "Иван", "surname": "Петров",
                     "gender": "Male", "inBlacklist": False},
        "phone": "+7 (916) 123-45-67", "status": "Closed",
        "whenCreated": "2026-03-14 21:02:00.000", "whenClosed": "2026-03-14 22:29:58.412",
        "waiter": {"id": str(uuid.uuid4()), "name": "Анна", "phone": None},
        "sum": 1929.28, "number": 123, "guestsInfo": {"count": 2, "splitBetweenPersons": False},
        "items": items,
        "payments": [{"paymentType": {"id": str(uuid.uuid4()), "name": "Наличные", "kind": "Cash"},
                      "sum": 1929.28, "isPreliminary": False, "isExternal": False,
                      "isProcessedExternally": False, "isFiscalizedExternally": False, "isPrepay": False}],
        "discounts": [
            {"discountType": {"id": PARTNER_DISCOUNT, "name": "Партнёр 10%"}, "sum": 159.0,
             "selectivePositions": [BORSCH_POSITION, DUMPLINGS_POSITION]},
            {"discountType": {"id": PARTNER_DISCOUNT.upper(), "name": "Партнёр 10%"}, "sum": 55.37},
        ],
        "orderType": {"id": str(uuid.uuid4()), "name": "Обычный заказ", "orderServiceType": "Common"},
        "terminalGroupId": iiko_server.TERMINAL_GROUP_ID, "processedPaymentsSum": 1929.28,
        "loyaltyInfo": {"coupon": None, "appliedManualConditions": None},
        "externalData": [{"key": "hub_card", "value": "8002"}],
    }  # fmt: skip


def table_event(order: dict[str, Any] | None = None, *, timestamp: int = 1773516601007) -> dict[str, Any]:
    info: dict[str, Any] = {"id": "e0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b"}
    info |= {"posId": "c9f8e7d6-c5b4-4a39-8281-706f5e4d3c2b"}
    info |= {"externalNumber": None, "organizationId": ORG, "timestamp": timestamp}
    info |= {"creationStatus": "Success", "errorInfo": None, "order": order or closed_order()}
    return {
        "eventType": "TableOrderUpdate",
        "eventTime": "2026-03-14 19:30:01.007",
        "organizationId": ORG,
        "correlationId": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
        "eventInfo": info,
    }


def delivery_event() -> dict[str, Any]:
    order = closed_order()
    for key in ("tableIds", "waiter"):
        order.pop(key)
    order |= {"customer": {"type": "one-time", "name": "Гость"}, "operator": {"id": "op-1", "name": "Ольга"}}
    order |= {"completeBefore": "2026-03-14 22:00:00.000", "cookingStartTime": "2026-03-14 21:10:00.000"}
    event = table_event(order)
    event["eventType"] = "DeliveryOrderUpdate"
    event["eventInfo"]["id"] = "d0000000-0000-4000-8000-000000000001"
    return event


def shift_event() -> dict[str, Any]:
    info = {"id": str(uuid.uuid4()), "roleId": str(uuid.uuid4()), "opened": True, "terminalGroupId": None}
    return {"eventType": "PersonalShift", "eventTime": "2026-03-14 19:31:00.000", "eventInfo": info}


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events), ensure_ascii=False).encode()


def mapped(event: dict[str, Any], zone: str = MOSCOW) -> mapping.PosOrder:
    decoded = wire.decode_event(json.dumps(event).encode())
    assert isinstance(decoded, wire.TableOrderEvent | wire.DeliveryOrderEvent)
    order = mapping.event_order(decoded, zone)
    assert isinstance(order, mapping.PosOrder)
    return order


# --- wire: decoding the webhook array --------------------------------------------------------


def test_realistic_array_decodes_into_typed_events() -> None:
    """Table, delivery and shift events in one array decode as such, Cyrillic and exact money intact."""
    events = wire.decode_webhook(body_of(table_event(), delivery_event(), shift_event()))
    table, delivery, shift = events
    assert isinstance(table, wire.TableOrderEvent)
    assert isinstance(delivery, wire.DeliveryOrderEvent)
    assert isinstance(shift, wire.OtherEvent)
    order = table.event_info.order
    assert order is not None
    assert [item.product.name for item in order.items if isinstance(item, wire.ProductOrderItem)] == [
        "Борщ", "Пельмени", "Кисель клюквенный", "Компот",
    ]  # fmt: skip
    assert order.sum == Decimal("1929.28")
    assert order.discounts is not None
    assert order.discounts[0].discount_type.name == "Партнёр 10%"
    assert isinstance(order.customer, wire.RegularCustomer)
    assert delivery.event_info.order is not None
    assert isinstance(delivery.event_info.order.customer, wire.AnonymousCustomer)
    assert shift.event_type == "PersonalShift"


def test_unknown_event_kept_byte_for_byte() -> None:
    """An event type the hub does not read is kept as the exact bytes iiko sent, without error."""
    body = body_of(shift_event(), {"eventType": "SomethingNew", "eventInfo": [1, 2, {"x": "ё"}]})
    raw = wire.split_webhook(body)
    assert [json.loads(e.raw) for e in raw] == json.loads(body)
    assert raw[0].raw in body
    other = wire.decode_event(raw[1].raw)
    assert isinstance(other, wire.OtherEvent)
    assert other.raw == raw[1].raw
    assert (raw[1].info_id, raw[1].info_timestamp) == (None, None)


def test_unknown_fields_ignored_at_every_level() -> None:
    """Fields iiko adds later (envelope, info, order, item, modifier, discount) do not break decoding."""
    event = table_event()
    event["newEnvelopeField"] = {"a": 1}
    event["eventInfo"]["shardKey"] = 7
    order = event["eventInfo"]["order"]
    order["tipsV2"] = []
    order["items"][1]["modifiers"][0]["freeOfChargeAmount"] = 0
    order["items"][0]["codes"] = [[{"code": "x"}]]
    order["discounts"][0]["isManual"] = True
    order["status"] = "ClosedLater"  # a status value iiko may add stays a plain string
    tolerant, plain = mapped(event), mapped(table_event())
    assert (tolerant.lines, tolerant.version, tolerant.status) == (plain.lines, plain.version, "ClosedLater")


def _set(path: list[str | int], value: Any) -> dict[str, Any]:
    event = table_event()
    target: Any = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["eventInfo", "order", "sum"], "1929.28"),
        (["eventInfo", "order", "sum"], True),
        (["eventInfo", "order", "sum"], None),
        (["eventInfo", "order", "sum"], 1e300),
        (["eventInfo", "order", "items", 2, "amount"], 1e-300),
        (["eventInfo", "timestamp"], "1773516601007"),
        (["eventInfo", "timestamp"], 1773516601007.5),
        (["eventInfo", "order", "items", 0, "type"], "Combo"),
        (["eventInfo", "order", "items", 0, "amount"], None),
        (["eventInfo", "order", "items", 1, "modifiers", 0, "price"], "50"),
        (["eventInfo", "order", "customer", "type"], "vip"),
        (["eventInfo", "order", "discounts", 0, "sum"], "159"),
        (["eventInfo", "order", "number"], "123"),
        (["eventInfo"], None),
    ],
)
def test_fields_the_hub_acts_on_are_typed_strictly(path: list[str | int], value: Any) -> None:
    """Money that is not a JSON number, a non-integer timestamp, an unknown item or customer kind: refused."""
    with pytest.raises(IikoPayloadError, match="documented shape"):
        wire.decode_event(json.dumps(_set(path, value)).encode())


@pytest.mark.parametrize(
    "body", [b"{}", b"", b"not json", b"[1]", b'[{"eventInfo": {}}]', b'[{"eventType": 5}]', b"[[]]"]
)
def test_body_must_be_an_array_of_typed_events(body: bytes) -> None:
    """A body that is not a JSON array of objects with a string eventType is refused with a typed error."""
    with pytest.raises(IikoPayloadError):
        wire.split_webhook(body)


def test_event_keys_deduplicate_repeats_not_updates() -> None:
    """The same event sent twice has one key; the order's next update (a larger timestamp) another."""
    first, repeat, later = wire.split_webhook(
        body_of(table_event(), table_event(), table_event(timestamp=1773516699000))
    )
    assert mapping.event_key(first) == mapping.event_key(repeat)
    assert mapping.event_key(first) == "e0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b:1773516601007"
    assert mapping.event_key(later) != mapping.event_key(first)
    shift = wire.split_webhook(body_of({"eventType": "X"}))[0]
    assert mapping.event_key(shift).startswith("sha256:")


# --- mapping: money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("2115.1", 211510),
        ("0.1", 10),
        ("0.005", 1),
        ("0.004", 0),
        ("-0.005", -1),
        ("10.125", 1013),
        ("1e2", 10000),
        ("450", 45000),
        ("0.10000000000000000555", 10),
        ("184.55000000000001", 18455),
        ("999999999999.99", 99999999999999),
    ],
)
def test_roubles_to_minor_from_json_text(text: str, minor: int) -> None:
    """A JSON rouble number becomes kopecks from its decimal text, rounded once half-up."""
    amount = wire.decode(f'{{"sum": {text}, "discountType": {{"id": "x"}}}}'.encode(), wire.DiscountItem).sum
    assert mapping.roubles_to_minor(amount) == minor


def test_float_arithmetic_would_drift_where_we_do_not() -> None:
    """19.99 as a float times 100 truncates to 1998, ten 0.1 add to under 1; read from text, both exact."""
    assert int(19.99 * 100) == 1998
    assert sum([0.1] * 10) != 1.0
    exact = wire.decode(b"[19.99, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]", list[wire.Exact])
    assert mapping.roubles_to_minor(exact[0]) == 1999
    assert sum(mapping.roubles_to_minor(x) for x in exact[1:]) == 100


@pytest.mark.parametrize("text", ["0.1000000000000000055511151231257827", "5e-324", "1e12", "-1e12"])
def test_numbers_no_double_of_a_check_prints_are_refused(text: str) -> None:
    """More decimals than a printed double has, or a magnitude beyond any check: a decoding error."""
    with pytest.raises(msgspec.ValidationError, match="out of range"):
        wire.decode(f"[{text}]".encode(), list[wire.Exact])


@given(kopecks=st.integers(-(10**14) + 1, 10**14 - 1))
def test_any_double_printed_kopeck_amount_reads_back_exactly(kopecks: int) -> None:
    """Whatever kopeck amount iiko prints as a double (shortest form), we read back that many kopecks."""
    text = repr(kopecks / 100)
    assert mapping.roubles_to_minor(wire.decode(f"[{text}]".encode(), list[wire.Exact])[0]) == kopecks


@given(
    lines=st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 20)), min_size=1, max_size=60),
)
def test_many_lines_never_drift(lines: list[tuple[int, int]]) -> None:
    """Sixty lines priced as doubles add up to the exact kopecks, line by line and in the order's sum."""
    items = [
        _item(f"Блюдо {n}", amount, price / 100, price * amount / 100, price * amount / 100)
        for n, (price, amount) in enumerate(lines)
    ]
    expected = sum(price * amount for price, amount in lines)
    order = closed_order() | {"items": items, "sum": expected / 100, "discounts": None}
    result = mapped(table_event(order))
    assert [line.unit_price_minor for line in result.lines] == [price for price, _ in lines]
    assert sum(line.charged_minor for line in result.lines) == expected
    assert result.total_minor == expected


# --- mapping: lines, discounts, people ---------------------------------------------------------


def test_closed_order_maps_lines_money_and_discounts() -> None:
    """Deleted Компот and the free modifier are left out; Сметана is its own line, twice per two Пельмени."""
    order = mapped(table_event())
    assert [
        (line.name, line.quantity, line.unit_price_minor, line.charged_minor) for line in order.lines
    ] == [
        ("Борщ", Decimal(1), 45000, 40500),
        ("Пельмени", Decimal(2), 52000, 93600),
        ("Сметана", Decimal(2), 5000, 9000),
        ("Кисель клюквенный", Decimal(3), 18455, 49828),
    ]
    sour_cream = order.lines[2]
    assert (sour_cream.is_modifier, sour_cream.parent_position_id) == (True, DUMPLINGS_POSITION)
    assert (order.total_minor, order.discount_minor, order.subtotal_minor) == (192928, 21437, 214365)
    assert order.discounts == (
        mapping.PosDiscount(PARTNER_DISCOUNT, "Партнёр 10%", 21437, (BORSCH_POSITION, DUMPLINGS_POSITION)),
    )
    assert order.payments[0].amount_minor == 192928
    assert (order.number, order.kind, order.is_closed, order.guests, order.staff) == (
        123,
        "table",
        True,
        2,
        "Анна",
    )
    assert order.external_data == (("hub_card", "8002"),)


def test_phone_raw_and_regular_customer_id() -> None:
    """The phone comes as iiko wrote it (the flow normalises it); only a regular customer gives an id."""
    table = mapped(table_event())
    assert (table.phone, table.customer_id) == ("+7 (916) 123-45-67", CUSTOMER_ID)
    delivery = mapped(delivery_event())
    assert (delivery.kind, delivery.customer_id, delivery.staff, delivery.table_ids) == (
        "delivery",
        None,
        "Ольга",
        (),
    )


def test_service_and_compound_items_become_lines() -> None:
    """A Service is a line at cost over amount; a Compound a line per component plus its paid modifiers."""
    half = {"product": _named("Маргарита"), "price": 300.0, "cost": 300.0, "resultSum": 270.0}
    other = {"product": _named("Пепперони"), "price": 350.0, "cost": 350.0, "resultSum": 315.0}
    crust = {"product": _named("Сырный борт"), "amount": 1, "amountIndependentOfParentAmount": True,
             "price": 90.0, "resultSum": 90.0}  # fmt: skip
    compound = {"type": "Compound", "status": "Served", "amount": 1, "primaryComponent": half}
    compound |= {"secondaryComponent": other, "commonModifiers": [crust]}
    service = {
        "type": "Service",
        "status": "Added",
        "amount": 4,
        "service": _named("Обслуживание"),
        "cost": 100.0,
    }
    order = closed_order() | {"items": [compound, service], "sum": 775.0, "discounts": None}
    lines = mapped(table_event(order)).lines
    assert [(line.name, line.quantity, line.unit_price_minor, line.charged_minor) for line in lines] == [
        ("Маргарита", Decimal(1), 30000, 27000),
        ("Пепперони", Decimal(1), 35000, 31500),
        ("Сырный борт", Decimal(1), 9000, 9000),
        ("Обслуживание", Decimal(4), 2500, 10000),
    ]


def test_program_discounts_found_by_type_id_or_name() -> None:
    """A program's iiko discount is recognised by its type id (any case) or its name (any case)."""
    order = mapped(table_event())
    assert mapping.matching_discounts(order, type_ids=[PARTNER_DISCOUNT.upper()]) == order.discounts
    assert mapping.matching_discounts(order, names=["  партнёр 10% "]) == order.discounts
    assert mapping.matching_discounts(order, type_ids=[str(uuid.uuid4())], names=["Сотрудник 50%"]) == ()


def test_order_without_body_is_skipped_with_iikos_reason() -> None:
    """creationStatus Error gives a Skip that carries iiko's message, not an order."""
    event = table_event()
    event["eventInfo"] |= {"creationStatus": "Error", "order": None}
    event["eventInfo"]["errorInfo"] = {"code": "Common", "message": "Терминал недоступен"}
    decoded = wire.decode_event(json.dumps(event).encode())
    assert isinstance(decoded, wire.TableOrderEvent)
    assert mapping.event_order(decoded, MOSCOW) == mapping.Skip(
        "iiko's creationStatus is Error: Терминал недоступен"
    )


def test_version_ignores_repeats_and_line_order_but_not_money() -> None:
    """A repeated or reordered order keeps its version; a changed sum or a changed line does not."""
    base = mapped(table_event()).version
    reordered = closed_order()
    reordered["items"].reverse()
    assert mapped(table_event(reordered, timestamp=1773516700000)).version == base
    waiter_changed = closed_order() | {"waiter": {"id": "w2", "name": "Борис"}}
    assert mapped(table_event(waiter_changed)).version == base
    assert mapped(table_event(closed_order() | {"sum": 1929.29})).version != base
    discount_moved = closed_order()
    discount_moved["items"][0]["resultSum"] = 404.0
    assert mapped(table_event(discount_moved)).version != base


# --- mapping: times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "closed", "event_time", "expected"),
    [
        (MOSCOW, "2026-03-14 22:29:58.412", None, "2026-03-14T19:29:58.412000+00:00"),
        (MOSCOW, "2026-07-01 23:10:00.000", None, "2026-07-01T20:10:00+00:00"),  # no DST in Moscow
        (MOSCOW, "2026-03-14 22:29:58", None, "2026-03-14T19:29:58+00:00"),
        (MOSCOW, "2026-03-14 22:29:58.4123456", None, "2026-03-14T19:29:58.412345+00:00"),
        (BERLIN, "2026-01-15 20:00:00.000", None, "2026-01-15T19:00:00+00:00"),  # CET
        (BERLIN, "2026-07-15 20:00:00.000", None, "2026-07-15T18:00:00+00:00"),  # CEST
        # 02:30 happens twice on 25 October: the reading not after the event wins
        (BERLIN, "2026-10-25 02:30:00.000", "2026-10-25 01:30:05.000", "2026-10-25T01:30:00+00:00"),
        (BERLIN, "2026-10-25 02:30:00.000", "2026-10-25 00:30:05.000", "2026-10-25T00:30:00+00:00"),
        (BERLIN, "2026-10-25 02:30:00.000", None, "2026-10-25T00:30:00+00:00"),
        # 02:30 never happens on 29 March: read with the offset before the change
        (BERLIN, "2026-03-29 02:30:00.000", None, "2026-03-29T01:30:00+00:00"),
    ],
)
def test_closed_time_to_utc(zone: str, closed: str, event_time: str | None, expected: str) -> None:
    """whenClosed is terminal-local in the venue's zone; DST-ambiguous times are settled by eventTime."""
    order = closed_order() | {"whenClosed": closed}
    event = table_event(order)
    event["eventTime"] = event_time
    decoded = wire.decode_event(json.dumps(event).encode())
    assert isinstance(decoded, wire.TableOrderEvent)
    result = mapping.event_order(decoded, zone)
    assert isinstance(result, mapping.PosOrder)
    assert result.closed_at == dt.datetime.fromisoformat(expected)
    assert result.closed_at is not None
    assert result.closed_at.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    ["14.03.2026 22:29", "2026-02-30 10:00:00.000", "2026-03-14 25:00:00.000", "0001-01-01 00:00:00.000", ""],
)
def test_malformed_time_is_a_payload_error(text: str) -> None:
    """A time iiko did not spell yyyy-MM-dd HH:mm:ss.fff (or a day that does not exist) is refused."""
    with pytest.raises(IikoPayloadError):
        mapping.terminal_time_to_utc(text or " ", mapping.time_zone(MOSCOW))


def test_terminal_time_for_order_reads() -> None:
    """by_table's dates are the venue's wall clock with milliseconds."""
    at = dt.datetime(2026, 3, 14, 19, 29, 58, 412_999, tzinfo=UTC)
    assert mapping.terminal_time(at, mapping.time_zone(MOSCOW)) == "2026-03-14 22:29:58.412"
    assert mapping.terminal_time(at, mapping.time_zone(BERLIN)) == "2026-03-14 20:29:58.412"
    with pytest.raises(ValueError, match="IANA"):
        mapping.time_zone("Europe/Атлантида")


def test_requests_spelled_as_iiko() -> None:
    """The registration and order reads encode with iiko's names and omit what is not set."""
    body = msgspec.json.decode(
        msgspec.json.encode(mapping.webhook_registration(ORG, "https://hub/pos/iiko/t", "s3"))
    )
    assert body["webHooksFilter"]["tableOrderFilter"] == {"orderStatuses": ["Closed"], "errors": False}
    assert body["webHooksFilter"]["deliveryOrderFilter"] == {"orderStatuses": ["Closed"], "errors": False}
    assert body["webHooksFilter"]["businessHoursAndMappingUpdateFilter"] == {"updates": False}
    assert {k: body[k] for k in ("organizationId", "webHooksUri", "authToken")} == {
        "organizationId": ORG, "webHooksUri": "https://hub/pos/iiko/t", "authToken": "s3",
    }  # fmt: skip
    by_id = msgspec.json.encode(mapping.orders_by_id_request(ORG, pos_order_ids=["p"]))
    assert by_id == f'{{"organizationIds":["{ORG}"],"posOrderIds":["p"]}}'.encode()
    with pytest.raises(ValueError, match="one kind"):
        mapping.orders_by_id_request(ORG, order_ids=["a"], pos_order_ids=["b"])
    with pytest.raises(ValueError, match="one kind"):
        mapping.orders_by_id_request(ORG)


# --- the client against the stand-in -----------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 3, 14, 19, 30, tzinfo=UTC))


@pytest.fixture
async def server(clock: FrozenClock) -> AsyncIterator[IikoServer]:
    iiko = IikoServer(lambda: clock.now().timestamp())
    await iiko.start()
    yield iiko
    await iiko.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, server: IikoServer, clock: FrozenClock) -> IikoClient:
    fetcher = IikoTokenFetcher(clock, timeout_seconds=TIMEOUT, grace_seconds=GRACE)
    tokens = MemoryTokenSource(fetcher, http, clock)
    return IikoClient(
        http, tokens, make_connector(server), clock, timeout_seconds=TIMEOUT, grace_seconds=GRACE
    )


class Receiver:
    """The hub's side of a webhook, on loopback: records each POST, answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/pos/iiko/{token}", self._take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/pos/iiko/Xq3vT9-path-token"

    async def _take(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hub_side = Receiver()
    await hub_side.start()
    yield hub_side
    await hub_side.close()


async def test_registration_stored_and_read_back(client: IikoClient, server: IikoServer) -> None:
    """update_settings sends the registration iiko's schema allows; settings reads back the same."""
    sent = mapping.webhook_registration(
        ORG, "https://hub.example/pos/iiko/тк", "Секрет-1", external_data_keys=["hub_card"]
    )
    assert await client.update_webhook_settings(sent) is not None
    call = server.calls_to(wire.WEBHOOKS_UPDATE_SETTINGS)[0]
    assert call.body == msgspec.json.decode(msgspec.json.encode(sent))
    assert call.headers["Authorization"].startswith("Bearer ")
    assert call.headers["Timeout"] == str(TIMEOUT)
    held = await client.webhook_settings(ORG)
    assert (held.api_login_name, held.web_hooks_uri, held.auth_token) == (
        iiko_server.API_LOGIN, "https://hub.example/pos/iiko/тк", "Секрет-1",
    )  # fmt: skip
    assert mapping.registration_differences(sent, held) == ()


async def test_settings_before_registration_differ_everywhere(client: IikoClient) -> None:
    """Before any registration iiko holds nothing: every registered part shows as a difference."""
    held = await client.webhook_settings(ORG)
    sent = mapping.webhook_registration(ORG, "https://hub.example/pos/iiko/t", "t")
    assert mapping.registration_differences(sent, held) == (
        "webHooksUri", "authToken", "tableOrderFilter.orderStatuses", "deliveryOrderFilter.orderStatuses",
    )  # fmt: skip


async def test_refused_registration_carries_iikos_text(client: IikoClient, server: IikoServer) -> None:
    """A 400 on update_settings is IikoRefusedError with iiko's errorDescription, and nothing is held."""
    server.fail(wire.WEBHOOKS_UPDATE_SETTINGS, 400, description="Логин API не имеет доступа к вебхукам")
    with pytest.raises(IikoRefusedError) as caught:
        await client.update_webhook_settings(mapping.webhook_registration(ORG, "https://hub/x", "t"))
    assert isinstance(caught.value, PermanentError)
    assert caught.value.status_code == 400
    assert caught.value.error_description == "Логин API не имеет доступа к вебхукам"
    assert "Логин API не имеет доступа к вебхукам" in str(caught.value)
    assert server.webhook_settings == {}


async def test_stand_in_refuses_what_iikos_schema_refuses(client: IikoClient, server: IikoServer) -> None:
    """A relative webHooksUri is refused by the stand-in's own check, and the client says iiko's words."""
    with pytest.raises(IikoRefusedError) as caught:
        await client.update_webhook_settings(mapping.webhook_registration(ORG, "/pos/iiko/t", "t"))
    assert caught.value.error_description == "webHooksUri must be an absolute http(s) URI"
    assert server.webhook_settings == {}


@pytest.mark.parametrize(
    "filters",
    [
        {"tableOrderFilter": {"orderStatus": ["Closed"]}},
        {"tableOrderFilter": {"orderStatuses": ["Cancelled"]}},
        {"deliveryOrderFilter": {"orderStatuses": ["Bill"]}},
        {"reserveFilter": {"updates": "no"}},
        {"kitchenFilter": {"updates": False}},
    ],
)
async def test_stand_in_validates_nested_filters(
    http: aiohttp.ClientSession, server: IikoServer, filters: dict[str, Any]
) -> None:
    """The stand-in checks the filters' fields and enums as iiko's schema lists them."""
    async with http.post(
        server.url + wire.ACCESS_TOKEN_V1, json={"apiLogin": iiko_server.API_LOGIN}, headers={"Timeout": "1"}
    ) as answer:
        token = (await answer.json())["token"]
    body = {"organizationId": ORG, "webHooksUri": "https://hub/x", "webHooksFilter": filters}
    headers = {"Authorization": f"Bearer {token}", "Timeout": "1"}
    async with http.post(server.url + wire.WEBHOOKS_UPDATE_SETTINGS, json=body, headers=headers) as answer:
        assert answer.status == 400
    assert server.webhook_settings == {}


async def test_registration_without_answer_is_outcome_unknown(client: IikoClient, server: IikoServer) -> None:
    """A 500 on update_settings may have applied it: OutcomeUnknownError, so the flow reads settings back."""
    server.fail(wire.WEBHOOKS_UPDATE_SETTINGS, 500)
    with pytest.raises(OutcomeUnknownError):
        await client.update_webhook_settings(mapping.webhook_registration(ORG, "https://hub/x", "t"))


async def test_read_without_answer_is_transient(client: IikoClient, server: IikoServer) -> None:
    """A 408 on order/by_table (the terminal did not answer) is a plain TransientError: reading is safe."""
    server.fail(wire.ORDER_BY_TABLE, 408)
    request = mapping.orders_by_table_request(
        ORG,
        [str(uuid.uuid4())],
        created_from=dt.datetime(2026, 3, 1, tzinfo=UTC),
        created_to=dt.datetime(2026, 3, 2, tzinfo=UTC),
        zone=MOSCOW,
    )
    with pytest.raises(TransientError) as caught:
        await client.orders_by_table(request)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.status_code == 408


def _two_course_order(server: IikoServer, table: str, when_created: str = "2026-03-14 21:05:00.000") -> str:
    items = [
        product("Борщ", "450", discount="45", modifiers=[modifier("Сметана", "50"), modifier("Без лука")]),
        product("Хачапури", "2115.1"),
        product("Компот", "150", deleted=True),
    ]
    order = server.add_order(
        items,
        table_ids=[table],
        phone="+79161234567",
        discounts=[discount("Партнёр 10%", "45")],
        when_created=when_created,
    )
    return order.id


async def test_orders_by_id_answer_known_orders_only(client: IikoClient, server: IikoServer) -> None:
    """by_id answers the orders it holds (by iiko id or POS id) and leaves unknown ids out."""
    table = str(uuid.uuid4())
    first = _two_course_order(server, table)
    server.close_order(first, "2026-03-14 22:29:58.412")
    second = _two_course_order(server, table)
    infos = await client.orders_by_id(mapping.orders_by_id_request(ORG, order_ids=[first, str(uuid.uuid4())]))
    assert [info.id for info in infos] == [first]
    order = mapping.pos_order(infos[0], MOSCOW)
    assert isinstance(order, mapping.PosOrder)
    assert [(line.name, line.unit_price_minor, line.charged_minor) for line in order.lines] == [
        ("Борщ", 45000, 40500),
        ("Сметана", 5000, 5000),
        ("Хачапури", 211510, 211510),
    ]
    assert (order.total_minor, order.discount_minor, order.is_closed) == (257010, 4500, True)
    assert order.closed_at == dt.datetime(2026, 3, 14, 19, 29, 58, 412000, tzinfo=UTC)
    by_pos = await client.orders_by_id(
        mapping.orders_by_id_request(ORG, pos_order_ids=[server.orders[second].pos_id.upper()])
    )
    assert [info.id for info in by_pos] == [second]


async def test_orders_by_table_filter_tables_statuses_and_dates(
    client: IikoClient, server: IikoServer
) -> None:
    """by_table answers orders of the asked tables, in the asked statuses, created in the window."""
    table, other_table = str(uuid.uuid4()), str(uuid.uuid4())
    wanted = _two_course_order(server, table, "2026-03-14 21:05:00.000")
    still_open = _two_course_order(server, table, "2026-03-14 21:10:00.000")
    elsewhere = _two_course_order(server, other_table, "2026-03-14 21:15:00.000")
    too_early = _two_course_order(server, table, "2026-03-13 12:00:00.000")
    for order_id in (wanted, elsewhere, too_early):
        server.close_order(order_id, "2026-03-14 23:00:00.000")
    request = mapping.orders_by_table_request(
        ORG,
        [table],
        created_from=dt.datetime(2026, 3, 14, 15, 0, tzinfo=UTC),
        created_to=dt.datetime(2026, 3, 14, 20, 0, tzinfo=UTC),
        zone=MOSCOW,
    )
    infos = await client.orders_by_table(request)
    assert [info.id for info in infos] == [wanted]
    assert still_open not in {info.id for info in infos}
    body = server.calls_to(wire.ORDER_BY_TABLE)[0].body
    assert (body["dateFrom"], body["dateTo"], body["statuses"]) == (
        "2026-03-14 18:00:00.000", "2026-03-14 23:00:00.000", ["Closed"],
    )  # fmt: skip


# --- the stand-in posting webhooks the way iiko does -------------------------------------------


HUB_WEBHOOK_TOKEN = "hub-Token_1-Zz"


async def _register(client: IikoClient, receiver: Receiver, secret: str = HUB_WEBHOOK_TOKEN) -> None:
    await client.update_webhook_settings(mapping.webhook_registration(ORG, receiver.url, secret))


async def test_webhook_array_posted_with_the_raw_token(
    client: IikoClient, server: IikoServer, receiver: Receiver
) -> None:
    """iiko posts a JSON array of several events with the raw authToken; the hub decodes it as sent."""
    await _register(client, receiver)
    order_id = _two_course_order(server, str(uuid.uuid4()))
    server.close_order(order_id, "2026-03-14 22:29:58.412")
    assert await server.post_webhooks([server.order_event(order_id), server.shift_event()]) == [200]
    headers, body = receiver.requests[0]
    assert headers["Authorization"] == "hub-Token_1-Zz"
    assert headers["Content-Type"].startswith("application/json")
    table, shift = wire.decode_webhook(body)
    assert isinstance(table, wire.TableOrderEvent)
    assert isinstance(shift, wire.OtherEvent)
    order = mapping.event_order(table, MOSCOW)
    assert isinstance(order, mapping.PosOrder)
    assert (order.order_id, order.total_minor, order.phone) == (order_id, 257010, "+79161234567")


async def test_webhook_bearer_form_and_repeated_delivery(
    client: IikoClient, server: IikoServer, receiver: Receiver
) -> None:
    """On request the token goes as Bearer; a repeated delivery carries the same events with the same keys."""
    await _register(client, receiver, secret="plain-token-42")
    order_id = _two_course_order(server, str(uuid.uuid4()))
    server.close_order(order_id, "2026-03-14 22:29:58.412")
    event = server.order_event(order_id)
    assert await server.post_webhooks([event], bearer=True, times=2) == [200, 200]
    assert [headers["Authorization"] for headers, _ in receiver.requests] == ["Bearer plain-token-42"] * 2
    keys = [mapping.event_key(e) for _, body in receiver.requests for e in wire.split_webhook(body)]
    assert keys[0] == keys[1] == f"{order_id}:{event['eventInfo']['timestamp']}"


async def test_later_updates_raise_timestamp_and_show_sum_changes(
    client: IikoClient, server: IikoServer, receiver: Receiver, clock: FrozenClock
) -> None:
    """Several updates of one order come with increasing timestamps; only a money change moves the version."""
    await _register(client, receiver)
    order_id = _two_course_order(server, str(uuid.uuid4()))
    server.close_order(order_id, "2026-03-14 22:29:58.412")
    closed = server.order_event(order_id)
    server.change_order(order_id, tabName="Стол возле окна")
    renamed = server.order_event(order_id)
    clock.advance(minutes=3)
    items = [*copy.deepcopy(server.orders[order_id].body["items"]), product("Чай", "120")]
    server.change_order(order_id, items=items)
    grown = server.order_event(order_id)
    await server.post_webhooks([closed, renamed, grown])
    events = wire.decode_webhook(receiver.requests[0][1])
    stamps = [e.event_info.timestamp for e in events if isinstance(e, wire.TableOrderEvent)]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 3
    orders = [mapping.event_order(e, MOSCOW) for e in events if isinstance(e, wire.TableOrderEvent)]
    versions = [o.version for o in orders if isinstance(o, mapping.PosOrder)]
    assert versions[0] == versions[1] != versions[2]


async def test_deleted_order_and_delivery_order_events(
    client: IikoClient, server: IikoServer, receiver: Receiver
) -> None:
    """A deleted table order comes as status Deleted; a delivery order as a DeliveryOrderUpdate."""
    await _register(client, receiver)
    table_order = _two_course_order(server, str(uuid.uuid4()))
    server.close_order(table_order, "2026-03-14 22:29:58.412")
    server.delete_order(table_order)
    delivery = server.add_order([product("Пицца", "799.9")], kind="delivery", phone="+79990000000")
    server.close_order(delivery.id, "2026-03-14 22:40:00.000")
    await server.post_webhooks([server.order_event(table_order), server.order_event(delivery.id)])
    events = wire.decode_webhook(receiver.requests[0][1])
    assert isinstance(events[0], wire.TableOrderEvent)
    assert isinstance(events[1], wire.DeliveryOrderEvent)
    deleted, delivered = mapping.event_order(events[0], MOSCOW), mapping.event_order(events[1], MOSCOW)
    assert isinstance(deleted, mapping.PosOrder)
    assert isinstance(delivered, mapping.PosOrder)
    assert (deleted.status, deleted.is_closed) == ("Deleted", False)
    assert (delivered.kind, delivered.total_minor, delivered.is_closed) == ("delivery", 79990, True)
