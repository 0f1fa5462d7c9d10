"""The settlement statement as clients get it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from hub.schema import OutputStruct


class Ref(OutputStruct):
    id: uuid.UUID
    name: str


class Figures(OutputStruct):
    """Money in minor units of `currency`; on a refunds line every amount is zero or negative. `visits`
    counts verified visits (not cancelled) by the venue-local day of verification, `receipts` the checks
    settled in the month (a visit may still wait for its check)."""

    visits: int
    receipts: int
    refunds: int
    check_sum_minor: int
    paid_minor: int
    discount_minor: int
    coalition_share_minor: int
    venue_share_minor: int
    fee_per_visit_minor: int
    fee_percent_minor: int
    fees_minor: int


class SettlementLine(Figures, kw_only=True):
    """One venue's sales (or refunds) under one program in the period."""

    partner: Ref
    venue: Ref
    program: Ref
    currency: str
    kind: Literal["sales", "refunds"]


class VenueTotal(Figures, kw_only=True):
    partner: Ref
    venue: Ref
    currency: str


class PartnerTotal(Figures, kw_only=True):
    partner: Ref
    currency: str


class SettlementStatement(OutputStruct):
    """`status` open: computed from the facts when asked; closed: as closing froze it, never changing."""

    period: str
    partner_id: uuid.UUID | None
    status: Literal["open", "closed"]
    closed_at: dt.datetime | None
    lines: list[SettlementLine]
    by_venue: list[VenueTotal]
    by_partner: list[PartnerTotal]


LINE_COLUMNS = [
    "partner.id",
    "partner.name",
    "venue.id",
    "venue.name",
    "program.id",
    "program.name",
    "currency",
    "kind",
    "visits",
    "receipts",
    "refunds",
    "check_sum_minor",
    "paid_minor",
    "discount_minor",
    "coalition_share_minor",
    "venue_share_minor",
    "fee_per_visit_minor",
    "fee_percent_minor",
    "fees_minor",
]
