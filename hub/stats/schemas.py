"""What the statistics endpoints answer: plain Structs with list fields (CSV/XLSX exports wrap them)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from hub.schema import OutputStruct, Page

GroupBy = Literal["day", "week", "month", "venue", "tier"]


class Figures(OutputStruct):
    """The numbers of one group: verified visits, distinct guests, receipts, net check and discount sums."""

    visits: int  # verified visits (not cancelled), on the venue-local day of verification
    unique_guests: int
    receipts: int  # the visits' receipts, not refunded in full
    visits_awaiting_check: int  # verified visits without a receipt yet
    check_sum_minor: int
    average_check_minor: int
    discount_sum_minor: int


class TierFigures(Figures):
    """A tier of one program (two programs' "gold" are two rows), with the name that program gives it."""

    program_id: uuid.UUID
    program_name: str
    tier_code: str | None
    tier_name: str | None  # None: no tier, or a tier the program no longer has


class ProgramFigures(Figures):
    program_id: uuid.UUID
    program_name: str
    kind: str
    currency: str


class DayFigures(Figures):
    date: dt.date


class Suppressed(OutputStruct):
    """Rows of a table left out because each had fewer than k_anonymity distinct guests."""

    table: str  # by_day | by_tier
    rows: int


class VenueStats(OutputStruct):
    venue_id: uuid.UUID
    date_from: dt.date
    date_to: dt.date
    currency: str | None  # None when the programs here count in different currencies
    visits: int
    unique_guests: int
    receipts: int
    visits_awaiting_check: int
    check_sum_minor: int
    average_check_minor: int
    discount_sum_minor: int
    by_tier: list[TierFigures]
    by_program: list[ProgramFigures]
    by_day: list[DayFigures]
    # None: the venue's own view, in full (venue, partner, admin keys); a concierge's view hides the
    # days and tiers with fewer distinct guests than this, and says how many in `suppressed`
    k_anonymity: int | None
    suppressed: list[Suppressed]


class VenueRow(OutputStruct):
    """A venue in the ranking; `venue_id` None is the "other" row of venues with too few guests."""

    venue_id: uuid.UUID | None
    venue_name: str
    partner_id: uuid.UUID | None
    visits: int
    unique_guests: int
    check_sum_minor: int


class PartnerRow(OutputStruct):
    """A partner in the ranking; `partner_id` None is the "other" row of partners with too few guests."""

    partner_id: uuid.UUID | None
    partner_name: str
    visits: int
    unique_guests: int
    check_sum_minor: int


class DistrictRow(OutputStruct):
    """A city district; `district` "other" (city None) gathers districts with too few guests."""

    city: str | None
    district: str
    visits: int
    unique_guests: int
    check_sum_minor: int


class ReferralFigures(OutputStruct):
    booked: int
    visited: int
    conversion: float  # visited / booked, 0 when nothing was booked


class ProgramStats(OutputStruct):
    program_id: uuid.UUID
    currency: str
    date_from: dt.date
    date_to: dt.date
    k_anonymity: int
    visits: int
    unique_guests: int
    receipts: int
    visits_awaiting_check: int
    check_sum_minor: int
    average_check_minor: int
    discount_sum_minor: int
    top_venues: list[VenueRow]
    by_partner: list[PartnerRow]
    by_district: list[DistrictRow]
    referrals: ReferralFigures


class SummaryRow(OutputStruct):
    """One period, venue or tier: cards issued (members created), registered (first purchase), purchases."""

    key: str
    label: str
    cards_issued: int | None  # None where cards are not attributable (group_by=venue)
    registered: int
    visits: int  # verified visits, whether or not their check has come
    visits_awaiting_check: int
    purchase_sum_minor: int
    purchase_count: int
    average_check_minor: int
    items_per_check: float  # items (by quantity: 3 x a dish is 3, a weighed line 1) per receipt


class SummaryReport(OutputStruct):
    program_id: uuid.UUID
    currency: str
    date_from: dt.date
    date_to: dt.date
    group_by: GroupBy
    k_anonymity: int  # group_by=venue lists venues of at least this many distinct guests, the rest as "other"
    total: SummaryRow
    rows: list[SummaryRow]


class SegmentCount(OutputStruct):
    segment: str
    members: int


class MemberScore(OutputStruct):
    member_id: uuid.UUID
    tier_code: str | None
    recency_days: int
    frequency: int
    monetary_minor: int
    r_score: int
    f_score: int
    m_score: int
    segment: str


class Segments(OutputStruct):
    program_id: uuid.UUID
    computed_at: dt.datetime | None  # None: never computed (POST …/segments/refresh)
    as_of: dt.date | None
    window_days: int
    scored_members: int
    segments: list[SegmentCount]
    members: Page[MemberScore]
