"""The guest flow's wire format (terminal key)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from hub.schema import Currency, InputStruct, MinorUnits, OutputStruct

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Price = Annotated[int, msgspec.Meta(ge=0, le=10**10)]
Quantity = Annotated[float, msgspec.Meta(gt=0, le=10_000)]


class ScanCreate(InputStruct):
    code: Code
    symbology: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class ProgramBrief(OutputStruct):
    id: uuid.UUID
    name: str
    kind: str


class MemberBrief(OutputStruct):
    tier_code: str | None
    name_masked: str | None


class PinInfo(OutputStruct):
    destination_masked: str
    expires_at: dt.datetime
    resend_available_at: dt.datetime | None


class Loyalty(OutputStruct):
    tier_code: str | None
    tier_name: str | None
    discount_percent: float
    bonus_percent: float
    bonus_balance_minor: int
    max_bonus_payment_percent: float
    source: str = "hub"  # or the kind of the venue's own system that answered, e.g. "iiko"
    note: str | None = None


class ScanAnswer(OutputStruct):
    scan_id: uuid.UUID
    status: Literal["pin_required", "venue_loyalty"]
    program: ProgramBrief
    member: MemberBrief | None = None
    pin: PinInfo | None = None
    visit_id: uuid.UUID | None = None
    loyalty: Loyalty | None = None


class PinSubmit(InputStruct):
    pin: Annotated[str, msgspec.Meta(max_length=32)]


class Discount(OutputStruct):
    offer_id: uuid.UUID | None
    percent: float
    max_discount_minor: int | None
    excluded_categories: list[str]
    perks: list[str]


class Verified(OutputStruct):
    status: Literal["verified"]
    visit_id: uuid.UUID
    discount: Discount
    member: MemberBrief


class Resent(OutputStruct):
    resend_available_at: dt.datetime | None
    expires_at: dt.datetime


class ItemIn(InputStruct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    quantity: Quantity
    unit_price_minor: Price
    category: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    sku: Annotated[str, msgspec.Meta(max_length=64)] | None = None


Items = Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=500)]
CheckId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ReceiptCreate(InputStruct):
    check_id: CheckId
    currency: Currency
    closed_at: dt.datetime
    items: Items
    guests: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    staff: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    pay_with_bonus_minor: MinorUnits = 0


class QuoteCreate(InputStruct):
    currency: Currency
    items: Items
    closed_at: dt.datetime | None = None
    guests: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    staff: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    pay_with_bonus_minor: MinorUnits = 0


class LineOut(OutputStruct):
    name: str
    category: str | None
    sku: str | None
    quantity: float
    unit_price_minor: int
    amount_minor: int
    discount_minor: int
    is_excluded: bool


class ReceiptAnswer(OutputStruct):
    receipt_id: uuid.UUID
    visit_id: uuid.UUID
    check_id: str
    currency: str
    subtotal_minor: int
    discount_minor: int
    bonus_spent_minor: int
    bonus_accrued_minor: int
    total_minor: int
    lines: list[LineOut]
    tier_code: str | None = None


class QuoteAnswer(OutputStruct):
    """The figures the receipt with the same body gets (discount, bonus paid and earned, total paid)."""

    visit_id: uuid.UUID
    currency: str
    subtotal_minor: int
    discount_minor: int
    bonus_spent_minor: int
    bonus_accrued_minor: int
    total_minor: int
    bonus_payable_minor: int
    bonus_balance_minor: int
    lines: list[LineOut]


REFUND_AMOUNT = (
    "money to give back, a part of the receipt's total_minor (what was paid in money, not by bonus); "
    "omitted: all that is left. The bonus paid with the check is returned to the guest's balance in the "
    "same proportion (bonus_returned_minor) and the bonus it earned is taken back (bonus_reversed_minor). "
    "A check paid wholly by bonus is refunded without an amount."
)


class RefundCreate(InputStruct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    amount_minor: Annotated[int, msgspec.Meta(ge=1, le=10**13, description=REFUND_AMOUNT)] | None = None


class RefundAnswer(OutputStruct):
    """A refund: money given back and its proportional share of the discount and of both bonus movements."""

    refund_id: uuid.UUID
    receipt_id: uuid.UUID
    amount_minor: Annotated[int, msgspec.Meta(description="money given back")]
    discount_reversed_minor: int
    bonus_reversed_minor: Annotated[int, msgspec.Meta(description="earned bonus taken back from the balance")]
    bonus_returned_minor: Annotated[int, msgspec.Meta(description="paid bonus given back to the balance")]
    currency: str
    reason: str
    created_at: dt.datetime


class VisitCancel(InputStruct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class VisitCancelled(OutputStruct):
    visit_id: uuid.UUID
    status: Literal["cancelled"]
    reason: str
    cancelled_at: dt.datetime
    referral_id: uuid.UUID | None  # the referral this visit had fulfilled: booked again
