"""Pure decisions: our event envelope → iiko requests, and iiko answers → what the hub reads.

No I/O here; destination.py and client.py do the calls.

Closed orders coming back (webhooks, order/by_id, order/by_table) become a PosOrder, decided so:
- Lines come from `items`; an item or modifier with `deleted` filled is left out, as is one with no
  positive quantity. A Product is a line at its `price`, charged its `resultSum` (its `cost` when
  iiko gives none). A Service is a line at `cost` over its amount. A Compound gives a line per
  component. Modifiers: iiko prices each modifier on its own (`price`, `resultSum`, as the Front API
  prices a modifier item), so a modifier with a price is a line of its own, its quantity its amount
  times the item's unless `amountIndependentOfParentAmount`; a free modifier ("без лука") says how
  to cook and carries no money: it is left out, as the r_keeper mapping leaves free modifiers out.
  The order's total is iiko's own `sum` (after discounts), never the lines added up.
- Money: roubles as the decimal text of the JSON number (wire.Exact), times 100, rounded once
  half-up to kopecks, so 2115.1 is 211510 and no float ever adds its drift.
- Times: `whenClosed` is the terminal's wall clock, read in the venue's time zone; a time a DST
  change makes ambiguous takes the latest reading not after the event's UTC `eventTime`, one a DST
  change skips is read with the offset before the change. `eventTime` is UTC.
- The phone is iiko's text as given: partners.phones is not exported from the partners package
  root, so connectors may not import it; the flow normalises it to E.164 before matching.
- The order's version is a hash of its sum and its lines (order-insensitive), so a later update
  that changes what was charged is seen, and one that only moves the timestamp is not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import Any, Literal

import msgspec

from connectors.iiko import wire
from connectors.iiko.errors import IikoPayloadError

FULL_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")  # E.164, as the hub stores it; a masked one has '*'
MARK_TEMPLATE = "came through {program}"
EVENT_MARKER = "coalition-hub event {event_id}"


@dataclass(frozen=True)
class Skip:
    """The event needs nothing written in iiko; why, for the delivery log."""

    reason: str


@dataclass(frozen=True)
class VisitPlan:
    member_id: str
    visit_id: str
    phone: str
    mark: str  # the comment line that says which coalition program sent the guest


@dataclass(frozen=True)
class IikoSettings:
    """The iiko-specific part of a connector's settings."""

    organization_id: str
    category_id: str | None = None  # mark by this guest category; None: mark by a comment line
    accrual_wallet_id: str | None = None  # opt-in: top up this wallet on receipt.closed
    accrual_percent: Decimal | None = None


@dataclass(frozen=True)
class IikoCustomerInfo:
    """What the guest flow needs from iiko about a guest of a venue program delegated to iiko."""

    customer_id: str
    name: str | None
    tier: str | None  # iiko has no tiers: its guest categories play that part
    categories: tuple[str, ...]
    bonus_balance: Decimal  # sum of the bonus-program wallets, major units
    wallets: tuple[tuple[str, Decimal], ...]  # (wallet name or id, balance) for every wallet


def settings_of(auth: dict[str, Any], settings: dict[str, Any]) -> IikoSettings:
    """Read the connector's organization and marking options (missing organization is a config error)."""
    organization_id = str(auth.get("organization_id") or settings.get("organization_id") or "")
    if not organization_id:
        raise ValueError("iiko connector has no organization_id")
    percent = settings.get("accrual_percent")
    return IikoSettings(
        organization_id=organization_id,
        category_id=_str_or_none(settings.get("category_id")),
        accrual_wallet_id=_str_or_none(settings.get("accrual_wallet_id")),
        accrual_percent=Decimal(str(percent)) if percent is not None else None,
    )


def coalition_mark(envelope: dict[str, Any]) -> str:
    program = (envelope.get("program") or {}).get("name") or "the coalition"
    return MARK_TEMPLATE.format(program=program)


def visit_plan(envelope: dict[str, Any], personal_data: str) -> VisitPlan | Skip:
    """What to write for a visit.verified, or why nothing can be written."""
    data = envelope.get("data") or {}
    member = data.get("member") or {}
    if personal_data != "full":
        return Skip(f"personal_data is {personal_data!r}: iiko finds guests by their full phone")
    phone = member.get("phone")
    if not isinstance(phone, str) or not FULL_PHONE.match(phone):
        return Skip("the member has no full phone number: iiko finds guests by phone")
    return VisitPlan(
        member_id=str(member.get("id")),
        visit_id=str(data.get("visit_id")),
        phone=phone,
        mark=coalition_mark(envelope),
    )


def upsert_by_phone(plan: VisitPlan, organization_id: str) -> wire.CreateOrUpdateCustomerRequest:
    """Create the guest or find them by phone; touches no other field of an existing guest."""
    return wire.CreateOrUpdateCustomerRequest(organization_id=organization_id, phone=plan.phone)


def merged_comment(existing: str | None, mark: str) -> str | None:
    """The guest's comment with our mark appended; None when the mark is already there."""
    current = (existing or "").strip()
    if mark in current.splitlines():
        return None
    return f"{current}\n{mark}" if current else mark


def comment_update(
    customer_id: str, comment: str, organization_id: str
) -> wire.CreateOrUpdateCustomerRequest:
    return wire.CreateOrUpdateCustomerRequest(
        organization_id=organization_id, id=customer_id, comment=comment
    )


def has_category(info: wire.CustomerInfoResponse, category_id: str) -> bool:
    return any(c.id.lower() == category_id.lower() for c in info.categories)


def is_marked(info: wire.CustomerInfoResponse, mark: str, category_id: str | None) -> bool:
    """Whether the guest already carries our "came through" mark (category or comment line)."""
    if category_id is not None:
        return has_category(info, category_id)
    return merged_comment(info.comment, mark) is None


def accrual_sum(total_minor: int, percent: Decimal) -> Decimal:
    """Points to top up for a check: percent of the total, in major units, rounded down to kopecks."""
    return (Decimal(total_minor) * percent / Decimal(10_000)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def event_marker(event_id: str) -> str:
    """Put in a wallet operation's comment so a read-back finds it (iiko takes no idempotency key)."""
    return EVENT_MARKER.format(event_id=event_id)


def topup_request(
    customer_id: str, wallet_id: str, organization_id: str, amount: Decimal, event_id: str
) -> wire.ChangeUserBalanceRequest:
    return wire.ChangeUserBalanceRequest(
        customer_id=customer_id,
        wallet_id=wallet_id,
        sum=float(amount),
        comment=event_marker(event_id),
        organization_id=organization_id,
    )


def transactions_window(
    customer_id: str, organization_id: str, around: dt.datetime, page_size: int = 100
) -> wire.TransactionsByPeriodRequest:
    """The report page that must hold a wallet operation made for an event that happened `around` then."""
    start = (around - dt.timedelta(days=1)).astimezone(dt.UTC)
    end = (around + dt.timedelta(days=4)).astimezone(dt.UTC)  # retries run for about three days
    return wire.TransactionsByPeriodRequest(
        customer_id=customer_id,
        date_from=start.strftime(wire.DATE_TIME_FORMAT),
        date_to=end.strftime(wire.DATE_TIME_FORMAT),
        page_number=0,
        page_size=page_size,
        organization_id=organization_id,
    )


def has_operation(report: wire.TransactionsByPeriodResponse, event_id: str) -> bool:
    marker = event_marker(event_id)
    return any(t.comment is not None and marker in t.comment for t in report.transactions)


def customer_summary(info: wire.CustomerInfoResponse) -> IikoCustomerInfo:
    """Map customer/info into the small frozen view the guest flow reads."""
    active = tuple(c.name or c.id for c in info.categories if c.is_active)
    chosen = [c for c in info.categories if c.is_active and not c.is_default_for_new_guests]
    tier = (chosen[0].name or chosen[0].id) if chosen else (active[0] if active else None)
    wallets = tuple((w.name or w.id, _money(w.balance)) for w in info.wallet_balances)
    bonus = sum(
        (_money(w.balance) for w in info.wallet_balances if w.type == wire.WALLET_TYPE_BONUS),
        start=Decimal("0.00"),
    )
    name = " ".join(part for part in (info.name, info.surname) if part) or None
    return IikoCustomerInfo(
        customer_id=info.id, name=name, tier=tier, categories=active, bonus_balance=bonus, wallets=wallets
    )


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


# --- inbound: money ----------------------------------------------------------------------------

KOPECKS_PER_ROUBLE = 100
NAME_LIMIT, SKU_LIMIT = 200, 64  # the receipt line's limits (hub.flow ItemIn)
# wire.Exact has at most 40 digits, 20 decimals and stays under 10**12: at 80 digits no step below
# rounds before the one quantize
_EXACT = Context(prec=80, rounding=ROUND_HALF_UP)
_ONE = Decimal(1)


def roubles_to_minor(roubles: Decimal) -> int:
    """Kopecks of a rouble amount, rounded once half-up (a tie away from zero: 0.005 → 1, -0.005 → -1)."""
    return int(_EXACT.quantize(_EXACT.multiply(roubles, KOPECKS_PER_ROUBLE), _ONE))


# --- inbound: times ----------------------------------------------------------------------------

_TIME_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?")


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The venue's IANA zone; an unknown name is a configuration error (ValueError)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone") from None


def _wall(text: str, zone: dt.tzinfo, fold: int = 0) -> dt.datetime:
    """iiko's `yyyy-MM-dd HH:mm:ss.fff` read as a wall-clock time in `zone`."""
    match = _TIME_TEXT.fullmatch(text.strip())
    if match is None:
        raise IikoPayloadError("a time is not spelled yyyy-MM-dd HH:mm:ss.fff")
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone, fold=fold
        )
    except ValueError:
        raise IikoPayloadError("a time names a day or an hour that does not exist") from None


def utc_time(text: str) -> dt.datetime:
    """An iiko UTC time (a webhook's eventTime) as an aware UTC datetime."""
    return _wall(text, dt.UTC)


def terminal_time_to_utc(text: str, zone: dt.tzinfo, *, not_after: dt.datetime | None = None) -> dt.datetime:
    """A terminal-local time → aware UTC; a DST-ambiguous one takes the latest reading not after
    `not_after` (the earliest without it), a DST-skipped one the offset before the change."""
    try:
        readings = [_wall(text, zone, fold).astimezone(dt.UTC) for fold in (0, 1)]
    except OverflowError:  # 0001-01-01 00:00 east of Greenwich: before the first representable instant
        raise IikoPayloadError("a time lies outside the representable years") from None
    wall = _wall(text, zone)
    # same tzinfo on both sides: == compares the wall clocks, which is the round trip we check
    valid = sorted({reading for reading in readings if reading.astimezone(zone) == wall})
    if not valid:
        return readings[0]
    fitting = [reading for reading in valid if not_after is not None and reading <= not_after]
    return fitting[-1] if fitting else valid[0]


def terminal_time(at: dt.datetime, zone: dt.tzinfo) -> str:
    """An aware instant as iiko's terminal-local `yyyy-MM-dd HH:mm:ss.fff` (order/by_table's dates)."""
    if at.tzinfo is None:
        raise ValueError("terminal_time needs an aware datetime")
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d}"


# --- inbound: orders ---------------------------------------------------------------------------

OrderKind = Literal["table", "delivery"]
AnyOrderInfo = wire.TableOrderInfo | wire.OrderInfo


@dataclass(frozen=True)
class PosLine:
    """An order line as the hub's receipt takes it (hub.flow ItemIn), plus what iiko charged for it."""

    name: str
    sku: str | None  # iiko's product id
    quantity: Decimal
    unit_price_minor: int  # before iiko's discounts
    charged_minor: int  # after iiko's discounts and surcharges
    position_id: str | None = None
    parent_position_id: str | None = None  # a modifier's line: the position it modifies
    is_modifier: bool = False
    category: str | None = None  # an iiko order names no product category


@dataclass(frozen=True)
class PosDiscount:
    """What iiko applied under one discount type (negative for a surcharge)."""

    type_id: str
    name: str | None
    amount_minor: int
    position_ids: tuple[str, ...]  # the positions a selective discount applied to


@dataclass(frozen=True)
class PosPayment:
    type_id: str
    name: str | None
    kind: str | None  # Cash, Card, External, …
    amount_minor: int


@dataclass(frozen=True)
class PosOrder:
    """A POS order as the hub reads it: who, what, how much, and iiko's discounts."""

    order_id: str  # iiko's order id (eventInfo.id)
    pos_id: str | None
    organization_id: str
    kind: OrderKind
    number: int  # the check number on the terminal
    status: str
    timestamp: int  # iiko's last change: a later update has a larger one
    is_closed: bool
    closed_at: dt.datetime | None
    created_at: dt.datetime | None
    terminal_group_id: str | None
    table_ids: tuple[str, ...]
    phone: str | None  # as iiko gives it; the flow normalises it to E.164
    customer_id: str | None  # iiko's id of a regular customer
    staff: str | None  # the waiter (table) or operator (delivery)
    guests: int | None
    lines: tuple[PosLine, ...]
    total_minor: int  # iiko's sum: after its discounts and surcharges
    discount_minor: int
    discounts: tuple[PosDiscount, ...]
    payments: tuple[PosPayment, ...]
    external_data: tuple[tuple[str, str | None], ...]
    version: str  # changes exactly when the sum or a line changes

    @property
    def subtotal_minor(self) -> int:
        """The order before iiko's discounts: its sum plus what they took off."""
        return self.total_minor + self.discount_minor


def _text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] if value else None


def _line(
    product: wire.Named,
    quantity: Decimal,
    price: Decimal,
    charged: Decimal,
    position_id: str | None,
    parent: str | None = None,
) -> PosLine:
    return PosLine(
        name=_text(product.name, NAME_LIMIT) or _text(product.id, NAME_LIMIT) or "?",
        sku=_text(product.id, SKU_LIMIT),
        quantity=quantity,
        unit_price_minor=roubles_to_minor(price),
        charged_minor=roubles_to_minor(charged),
        position_id=position_id,
        parent_position_id=parent,
        is_modifier=parent is not None,
    )


def _modifier_lines(
    modifiers: list[wire.OrderItemModifier] | None, parent_amount: Decimal, parent: str | None
) -> list[PosLine]:
    """The paid, undeleted modifiers of an item, each a line; its quantity is per parent unit unless
    the modifier's amount is independent of the parent's."""
    lines = []
    for modifier in modifiers or ():
        if modifier.deleted is not None or modifier.amount <= 0 or modifier.price <= 0:
            continue
        quantity: Decimal = modifier.amount
        if not modifier.amount_independent_of_parent_amount:
            quantity = _EXACT.multiply(quantity, parent_amount)
        lines.append(
            _line(
                modifier.product, quantity, modifier.price, modifier.result_sum, modifier.position_id, parent
            )
        )
    return lines


def _component_lines(part: wire.CompoundOrderItemComponent, amount: Decimal) -> list[PosLine]:
    charged = part.result_sum if part.result_sum is not None else part.cost
    main = _line(part.product, amount, part.price, charged, part.position_id)
    return [main, *_modifier_lines(part.modifiers, amount, part.position_id or part.product.id)]


def _item_lines(item: wire.OrderItem) -> list[PosLine]:
    if isinstance(item, wire.ProductOrderItem):
        charged = item.result_sum if item.result_sum is not None else item.cost
        main = _line(item.product, item.amount, item.price, charged, item.position_id)
        parent = item.position_id or item.product.id
        return [main, *_modifier_lines(item.modifiers, item.amount, parent)]
    if isinstance(item, wire.ServiceOrderItem):
        return [_line(item.service, item.amount, _EXACT.divide(item.cost, item.amount), item.cost, None)]
    lines = _component_lines(item.primary_component, item.amount)
    if item.secondary_component is not None:
        lines += _component_lines(item.secondary_component, item.amount)
    common = item.primary_component.position_id or item.primary_component.product.id
    return lines + _modifier_lines(item.common_modifiers, item.amount, common)


def order_lines(items: Iterable[wire.OrderItem]) -> tuple[PosLine, ...]:
    """The sale lines of an order, in iiko's order: deleted items and non-positive amounts left out,
    and a line with a negative price (no sale the receipt can hold) too."""
    lines: list[PosLine] = []
    for item in items:
        if item.deleted is None and item.amount > 0:
            lines += _item_lines(item)
    return tuple(line for line in lines if line.unit_price_minor >= 0)


def _positions(item: wire.DiscountItem) -> tuple[str, ...]:
    listed = [
        *(item.selective_positions or ()),
        *(p.position_id for p in item.selective_positions_with_sum or ()),
    ]
    return tuple(dict.fromkeys(listed))


def order_discounts(discounts: Iterable[wire.DiscountItem] | None) -> tuple[PosDiscount, ...]:
    """iiko's discounts grouped by discount type (its id, case-insensitive), in first-seen order;
    each amount rounded to kopecks before adding, so the total is the sum of the parts."""
    grouped: dict[str, PosDiscount] = {}
    for item in discounts or ():
        kind = item.discount_type
        seen = grouped.get(kind.id.lower(), PosDiscount(kind.id, kind.name, 0, ()))
        grouped[kind.id.lower()] = PosDiscount(
            type_id=seen.type_id,
            name=seen.name or kind.name,
            amount_minor=seen.amount_minor + roubles_to_minor(item.sum),
            position_ids=tuple(dict.fromkeys((*seen.position_ids, *_positions(item)))),
        )
    return tuple(grouped.values())


def matching_discounts(
    order: PosOrder, type_ids: Iterable[str] = (), names: Iterable[str] = ()
) -> tuple[PosDiscount, ...]:
    """The order's discounts of the given iiko discount type ids or names (a program's discount types)."""
    ids = {type_id.lower() for type_id in type_ids}
    wanted = {name.strip().casefold() for name in names}
    return tuple(
        d
        for d in order.discounts
        if d.type_id.lower() in ids or (d.name is not None and d.name.strip().casefold() in wanted)
    )


def order_version(total_minor: int, lines: Iterable[PosLine]) -> str:
    """A fingerprint of the sum and the lines (their order aside): equal for a repeated update,
    different once what was charged changes."""
    rows = sorted(
        [
            line.sku or "",
            line.name,
            format(line.quantity.normalize(), "f"),
            line.unit_price_minor,
            line.charged_minor,
        ]
        for line in lines
    )
    return hashlib.sha256(msgspec.json.encode([1, total_minor, rows])).hexdigest()


def _payments(payments: list[wire.PaymentItem] | None) -> tuple[PosPayment, ...]:
    return tuple(
        PosPayment(p.payment_type.id, p.payment_type.name, p.payment_type.kind, roubles_to_minor(p.sum))
        for p in payments or ()
    )


def _staff(order: wire.TableOrder | wire.DeliveryOrder) -> str | None:
    person = order.waiter if isinstance(order, wire.TableOrder) else order.operator
    return _text(person.name, NAME_LIMIT) if person is not None else None


def _customer_id(order: wire.TableOrder | wire.DeliveryOrder) -> str | None:
    return order.customer.id if isinstance(order.customer, wire.RegularCustomer) else None


def _guests(order: wire.TableOrder | wire.DeliveryOrder) -> int | None:
    count = order.guests_info.count if order.guests_info is not None else 0
    return count if count >= 1 else None


def _local(text: str | None, zone: dt.tzinfo, not_after: dt.datetime | None) -> dt.datetime | None:
    return terminal_time_to_utc(text, zone, not_after=not_after) if text else None


def _not_created(info: AnyOrderInfo) -> Skip:
    if info.creation_status == wire.CREATION_SUCCESS:
        return Skip("iiko sent the order's event without the order")
    error = info.error_info
    message = (error.message or error.description or error.code) if error is not None else None
    return Skip(f"iiko's creationStatus is {info.creation_status}" + (f": {message}" if message else ""))


def pos_order(info: AnyOrderInfo, zone: str, *, event_time: str | None = None) -> PosOrder | Skip:
    """An iiko order (a webhook's eventInfo, or one of order/by_id's) as the hub reads it; times in
    the venue's `zone`; Skip when iiko holds no order body (creationStatus not Success)."""
    order = info.order
    if info.creation_status != wire.CREATION_SUCCESS or order is None:
        return _not_created(info)
    tz = time_zone(zone)
    not_after = utc_time(event_time) if event_time else None
    lines = order_lines(order.items)
    total = roubles_to_minor(order.sum)
    discounts = order_discounts(order.discounts)
    return PosOrder(
        order_id=info.id,
        pos_id=info.pos_id,
        organization_id=info.organization_id,
        kind="table" if isinstance(order, wire.TableOrder) else "delivery",
        number=order.number,
        status=order.status,
        timestamp=info.timestamp,
        is_closed=order.status == wire.ORDER_STATUS_CLOSED,
        closed_at=_local(order.when_closed, tz, not_after),
        created_at=_local(order.when_created, tz, not_after),
        terminal_group_id=order.terminal_group_id,
        table_ids=tuple(order.table_ids) if isinstance(order, wire.TableOrder) else (),
        phone=_text(order.phone, 40),
        customer_id=_customer_id(order),
        staff=_staff(order),
        guests=_guests(order),
        lines=lines,
        total_minor=total,
        discount_minor=sum(d.amount_minor for d in discounts),
        discounts=discounts,
        payments=_payments(order.payments),
        external_data=tuple((e.key, e.value) for e in order.external_data or ()),
        version=order_version(total, lines),
    )


def event_order(event: wire.TableOrderEvent | wire.DeliveryOrderEvent, zone: str) -> PosOrder | Skip:
    """A webhook order event's order; its UTC eventTime settles a DST-ambiguous closing time."""
    return pos_order(event.event_info, zone, event_time=event.event_time)


def event_key(event: wire.RawEvent) -> str:
    """What deduplicates iiko's repeated deliveries: eventInfo's id and timestamp, else the bytes' hash."""
    if event.info_id is not None and event.info_timestamp is not None:
        return f"{event.info_id.lower()}:{event.info_timestamp}"
    return "sha256:" + hashlib.sha256(event.raw).hexdigest()


# --- outbound: webhook registration and order reads -------------------------------------------


def webhook_registration(
    organization_id: str,
    uri: str,
    auth_token: str,
    *,
    table_statuses: Iterable[str] = (wire.ORDER_STATUS_CLOSED,),
    delivery_statuses: Iterable[str] = (wire.ORDER_STATUS_CLOSED,),
    external_data_keys: Iterable[str] = (),
) -> wire.UpdateWebHookSettingsRequest:
    """Table and delivery orders in the given statuses to `uri`; every other kind of event off."""
    off = wire.WebHookShortFilter(updates=False)
    keys = list(external_data_keys)
    return wire.UpdateWebHookSettingsRequest(
        organization_id=organization_id,
        web_hooks_uri=uri,
        auth_token=auth_token,
        web_hooks_filter=wire.WebHooksFilter(
            delivery_order_filter=wire.DeliveryOrderWebHooksFilter(
                order_statuses=list(delivery_statuses), errors=False, returned_external_data_keys=keys or None
            ),
            table_order_filter=wire.TableOrderWebHookFilter(
                order_statuses=list(table_statuses), errors=False
            ),
            reserve_filter=wire.ReserveWebHookFilter(updates=False, errors=False),
            stop_list_update_filter=off,
            personal_shift_filter=off,
            nomenclature_update_filter=off,
            business_hours_and_mapping_update_filter=off,
        ),
    )


def _statuses(held: list[str] | None) -> set[str]:
    return set(held or ())


def registration_differences(
    sent: wire.UpdateWebHookSettingsRequest, held: wire.GetWebHookSettingsResponse
) -> tuple[str, ...]:
    """Which of what the hub registered iiko does not hold as sent (names as iiko spells them)."""
    sent_filter = sent.web_hooks_filter or wire.WebHooksFilter()
    held_filter = held.web_hooks_filter or wire.WebHooksFilter()
    pairs = {
        "webHooksUri": (sent.web_hooks_uri, held.web_hooks_uri),
        "authToken": (sent.auth_token, held.auth_token),
        "tableOrderFilter.orderStatuses": (
            _statuses((sent_filter.table_order_filter or wire.TableOrderWebHookFilter()).order_statuses),
            _statuses((held_filter.table_order_filter or wire.TableOrderWebHookFilter()).order_statuses),
        ),
        "deliveryOrderFilter.orderStatuses": (
            _statuses(
                (sent_filter.delivery_order_filter or wire.DeliveryOrderWebHooksFilter()).order_statuses
            ),
            _statuses(
                (held_filter.delivery_order_filter or wire.DeliveryOrderWebHooksFilter()).order_statuses
            ),
        ),
    }
    return tuple(name for name, (ours, theirs) in pairs.items() if ours != theirs)


def orders_by_id_request(
    organization_id: str,
    *,
    order_ids: Iterable[str] = (),
    pos_order_ids: Iterable[str] = (),
    external_data_keys: Iterable[str] = (),
) -> wire.GetTableOrdersByIdRequest:
    """order/by_id for iiko order ids or POS order ids (iiko takes one kind per request, not both)."""
    ids, pos_ids, keys = list(order_ids), list(pos_order_ids), list(external_data_keys)
    if bool(ids) == bool(pos_ids):
        raise ValueError("order/by_id takes order ids or POS order ids, one kind and not none")
    return wire.GetTableOrdersByIdRequest(
        organization_ids=[organization_id],
        order_ids=ids or None,
        pos_order_ids=pos_ids or None,
        return_external_data_keys=keys or None,
    )


def orders_by_table_request(
    organization_id: str,
    table_ids: Iterable[str],
    *,
    created_from: dt.datetime,
    created_to: dt.datetime,
    zone: str,
    statuses: Iterable[str] = (wire.ORDER_STATUS_CLOSED,),
) -> wire.GetTableOrdersByTableRequest:
    """order/by_table for orders created in [created_from, created_to], given in the venue's zone."""
    tables = list(table_ids)
    if not tables:
        raise ValueError("order/by_table needs at least one table id")
    tz = time_zone(zone)
    return wire.GetTableOrdersByTableRequest(
        organization_ids=[organization_id],
        table_ids=tables,
        statuses=list(statuses) or None,
        date_from=terminal_time(created_from, tz),
        date_to=terminal_time(created_to, tz),
    )
