"""Settlement arithmetic (pure, integers only): who funds a discount, program fees, how refunds reverse them.

A sale splits its discount with the coalition-funded share snapshotted on the visit (half up; the venue
gets the remainder, so the two always sum to the discount) and owes the program's fees in force on the
day its visit was verified. A refund reverses a part of each figure. Reversals are cumulative: the
reversed total after a refund is the figure prorated on everything refunded so far, minus what earlier
refunds reversed. So partial refunds never reverse more than the sale had, and refunding the whole
receipt reverses every figure exactly, whatever the rounding along the way.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from partners.rules import BP, div_half_up

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# ---- funding and fees ----


@dataclass(frozen=True)
class Split:
    coalition_minor: int
    venue_minor: int


def split_discount(discount_minor: int, coalition_bp: int) -> Split:
    """The coalition's share half up, the venue's the remainder: the two sum to the discount exactly."""
    coalition = div_half_up(discount_minor * coalition_bp, BP)
    return Split(coalition_minor=coalition, venue_minor=discount_minor - coalition)


def prorate(figure: int, part: int, whole: int) -> int:
    """The share of figure that part of whole carries, half up; all of it once part reaches whole."""
    if whole <= 0:
        return 0
    return div_half_up(figure * min(part, whole), whole)


def reversal(figure: int, whole: int, before: int, after: int) -> int:
    """What one refund reverses of figure, when it takes the refunded part of whole from before to after."""
    return prorate(figure, after, whole) - prorate(figure, before, whole)


@dataclass(frozen=True)
class Check:
    """A receipt as a refund sees it: paid in money (total), the discount, the bonus paid and earned."""

    total_minor: int
    discount_minor: int
    bonus_spent_minor: int = 0
    bonus_accrued_minor: int = 0


@dataclass(frozen=True)
class Refunded:
    """One refund: the money given back and its share of the discount and of both bonus movements."""

    amount_minor: int  # money refunded (a part of the check's total_minor, never the bonus paid)
    discount_reversed_minor: int
    bonus_reversed_minor: int  # of the bonus the check earned: taken back from the balance
    bonus_returned_minor: int  # of the bonus paid with the check: given back to the balance


def refund_of(
    check: Check, *, refunded_minor: int, returned_minor: int, amount_minor: int | None
) -> Refunded | None:
    """The refund of amount_minor of money (None: all that is left), or None when that is not refundable.

    Every part is the cumulative reversal over the money paid, so partial refunds add up to exactly the full
    refund. A check paid wholly by bonus (total 0) is refunded at once, without an amount: its bonus is
    returned, its discount reversed.
    """
    if check.total_minor > 0:
        left = check.total_minor - refunded_minor
        amount = left if amount_minor is None else amount_minor
        if not 0 < amount <= left:
            return None
        whole, before, after = check.total_minor, refunded_minor, refunded_minor + amount
    else:
        if amount_minor is not None or returned_minor >= check.bonus_spent_minor:
            return None
        amount, whole, before, after = 0, 1, 0, 1

    def back(figure: int) -> int:
        return reversal(figure, whole, before, after)

    return Refunded(
        amount_minor=amount,
        discount_reversed_minor=back(check.discount_minor),
        bonus_reversed_minor=back(check.bonus_accrued_minor),
        bonus_returned_minor=back(check.bonus_spent_minor),
    )


@dataclass(frozen=True)
class FeeTerms:
    """A program's fees from `effective_at` on (None: since the program began)."""

    effective_at: dt.datetime | None = None
    per_visit_minor: int = 0
    percent_of_check_bp: int = 0


NO_FEES = FeeTerms()


def fee_schedule(stored: Mapping[str, Any]) -> list[FeeTerms]:
    """Program.fees as stored ({"schedule": [{effective_at, per_visit_minor, percent_of_check_bp}]})."""
    schedule = []
    for entry in stored.get("schedule", []):
        at = entry.get("effective_at")
        schedule.append(
            FeeTerms(
                effective_at=dt.datetime.fromisoformat(at) if at else None,
                per_visit_minor=int(entry.get("per_visit_minor") or 0),
                percent_of_check_bp=int(entry.get("percent_of_check_bp") or 0),
            )
        )
    return schedule


def fee_entry(terms: FeeTerms) -> dict[str, Any]:
    """One schedule entry as stored in Program.fees."""
    return {
        "effective_at": terms.effective_at.isoformat() if terms.effective_at else None,
        "per_visit_minor": terms.per_visit_minor,
        "percent_of_check_bp": terms.percent_of_check_bp,
    }


def fees_in_force(schedule: Sequence[FeeTerms], at: dt.datetime) -> FeeTerms:
    """The latest entry effective at `at`: a fee change never rewrites the statements of earlier sales."""
    current = NO_FEES
    for terms in schedule:
        if terms.effective_at is None or terms.effective_at <= at:
            current = terms
    return current


# ---- figures ----


@dataclass(frozen=True)
class Figures:
    """The numbers of a statement line; refunds carry negative money. visits are verified visits, receipts
    the checks that came (a visit may still wait for its check)."""

    visits: int = 0
    receipts: int = 0
    refunds: int = 0
    check_sum_minor: int = 0
    paid_minor: int = 0
    discount_minor: int = 0
    coalition_share_minor: int = 0
    venue_share_minor: int = 0
    fee_per_visit_minor: int = 0
    fee_percent_minor: int = 0

    @property
    def fees_minor(self) -> int:
        return self.fee_per_visit_minor + self.fee_percent_minor

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def total(figures: Iterable[Figures]) -> Figures:
    result = Figures()
    for item in figures:
        result = result + item
    return result


@dataclass(frozen=True)
class Sale:
    """A receipt as settlement sees it: check before discount, the discount, what was paid."""

    subtotal_minor: int
    discount_minor: int
    total_minor: int
    coalition_bp: int
    fees: FeeTerms = NO_FEES


def sale_figures(sale: Sale) -> Figures:
    split = split_discount(sale.discount_minor, sale.coalition_bp)
    return Figures(
        receipts=1,
        check_sum_minor=sale.subtotal_minor,
        paid_minor=sale.total_minor,
        discount_minor=sale.discount_minor,
        coalition_share_minor=split.coalition_minor,
        venue_share_minor=split.venue_minor,
        fee_per_visit_minor=sale.fees.per_visit_minor,
        fee_percent_minor=div_half_up(sale.total_minor * sale.fees.percent_of_check_bp, BP),
    )


def refund_figures(sale: Sale, before_minor: int, amount_minor: int) -> Figures:
    """The negative line of one refund of amount_minor, after earlier refunds of before_minor.

    Every figure is reversed in proportion to the paid amount refunded, cumulatively (see the module
    docstring); the discount reversed is the sum of the two shares reversed. It is derived here rather than
    read from the refund row: the flow prorates each refund on its own, which can leave a minor unit or two
    unreversed after several partial refunds. The per-visit fee is reversed by the refund that completes a
    full refund (the sale is undone).
    """
    after = before_minor + amount_minor
    whole = sale_figures(sale)

    def back(figure: int) -> int:
        return reversal(figure, sale.total_minor, before_minor, after)

    coalition, venue = back(whole.coalition_share_minor), back(whole.venue_share_minor)
    completes = before_minor < sale.total_minor <= after
    return Figures(
        refunds=1,
        check_sum_minor=-back(sale.subtotal_minor),
        paid_minor=-amount_minor,
        discount_minor=-(coalition + venue),
        coalition_share_minor=-coalition,
        venue_share_minor=-venue,
        fee_per_visit_minor=-whole.fee_per_visit_minor if completes else 0,
        fee_percent_minor=-back(whole.fee_percent_minor),
    )


# ---- periods ----


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def bounds(self, timezone: str) -> tuple[dt.datetime, dt.datetime]:
        """The month as [start, end) in UTC, its edges at local midnight in that time zone."""
        zone = zoneinfo.ZoneInfo(timezone)
        start = dt.datetime(self.year, self.month, 1, tzinfo=zone)
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        end = dt.datetime(year, month, 1, tzinfo=zone)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def period_of(at: dt.datetime, timezone: str) -> Period:
    """The month `at` falls in, in that time zone."""
    local = at.astimezone(zoneinfo.ZoneInfo(timezone))
    return Period(local.year, local.month)


def ended_everywhere(period: Period, timezones: Iterable[str]) -> dt.datetime:
    """When the month has ended in every one of these time zones (in UTC when there are none)."""
    return max(period.bounds(zone)[1] for zone in {*timezones} or {"UTC"})


def parse_period(text: str) -> Period | None:
    """'2026-11' → Period(2026, 11); anything else → None."""
    match = _PERIOD.match(text)
    if match is None or not 1 <= int(match.group(1)) <= 9998:  # datetime's years, and the month after
        return None
    return Period(int(match.group(1)), int(match.group(2)))
