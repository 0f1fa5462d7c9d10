"""The concierge's wire format: referrals, and a member's profile and visits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from hub.concierge.windows import ShownStatus
from hub.schema import InputStruct, OutputStruct
from partners.schemas import CardNumber, MemberRead

PartySize = Annotated[int, msgspec.Meta(ge=1, le=500)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class ReferralCreate(InputStruct):
    """A booking: the member by id or by card number (one of the two), expected_at with its offset."""

    program_id: uuid.UUID
    venue_id: uuid.UUID
    expected_at: Annotated[dt.datetime, msgspec.Meta(examples=["2026-11-20T20:00:00+03:00"])]
    member_id: uuid.UUID | None = None
    card_number: CardNumber | None = None
    party_size: PartySize | None = None
    note: Note | None = None


class VenueBrief(OutputStruct):
    id: uuid.UUID
    name: str
    district: str
    timezone: str  # the venue's: its times are shown there (exports too)


class ReferralRead(OutputStruct):
    """status: booked, visited (with the visit, and its check once the receipt is posted), expired
    (booked, the window closed with no visit) or cancelled."""

    id: uuid.UUID
    program_id: uuid.UUID
    member_id: uuid.UUID
    card_number: str
    venue_id: uuid.UUID
    venue: VenueBrief
    expected_at: dt.datetime
    window_opens_at: dt.datetime
    window_closes_at: dt.datetime
    party_size: int | None
    note: str | None
    status: ShownStatus
    visit_id: uuid.UUID | None
    visited_at: dt.datetime | None
    check_sum_minor: int | None  # the receipt's subtotal, before the discount
    discount_minor: int | None
    total_minor: int | None
    currency: str | None
    created_at: dt.datetime
    cancelled_at: dt.datetime | None


# ---- guest history ----


class MemberTotals(OutputStruct):
    """Over all the member's visits; sums over posted receipts, as posted (refunds shown apart)."""

    visits: int
    check_sum_minor: int
    discount_sum_minor: int
    refunded_minor: int
    currency: str
    last_visit_at: dt.datetime | None


class FavouriteVenue(OutputStruct):
    id: uuid.UUID
    name: str
    district: str
    city: str
    visits: int
    last_visit_at: dt.datetime


class MemberProfile(MemberRead, kw_only=True):
    """The member (phone masked) with their tier, totals and the venues they go to most."""

    tier_name: str | None
    totals: MemberTotals
    favourite_venues: list[FavouriteVenue]


class MemberVisit(OutputStruct):
    """One visit; the money fields are null until its receipt is posted."""

    id: uuid.UUID
    program_id: uuid.UUID
    venue: VenueBrief
    verified_at: dt.datetime
    status: str
    tier_code: str | None
    receipt_id: uuid.UUID | None
    closed_at: dt.datetime | None
    check_sum_minor: int | None
    discount_minor: int | None
    total_minor: int | None
    refunded_minor: int | None
    currency: str | None
