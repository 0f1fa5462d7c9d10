"""Offer choice, discount and bonus math, tier promotion (pure: no I/O, integers only for money)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BP = 10_000  # basis points in 100 %
MILLI = 1000  # quantities are kept in thousandths (0.5 kg = 500)


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class OfferTerms:
    offer_id: uuid.UUID
    partner_id: uuid.UUID | None
    venue_id: uuid.UUID | None
    tier_code: str | None
    discount_bp: int
    max_discount_minor: int | None
    excluded_categories: frozenset[str]
    perks: tuple[str, ...] = ()
    coalition_funded_bp: int = 0


def _specificity(offer: OfferTerms) -> tuple[int, int]:
    target = 2 if offer.venue_id is not None else 1 if offer.partner_id is not None else 0
    return target, 1 if offer.tier_code is not None else 0


def choose_offer(
    offers: Iterable[OfferTerms], *, tier_code: str | None, venue_id: uuid.UUID, partner_id: uuid.UUID
) -> OfferTerms | None:
    """Venue beats partner beats program-wide; a tier offer beats a tier-less one; then the larger one."""
    applicable = [
        o
        for o in offers
        if (o.venue_id is None or o.venue_id == venue_id)
        and (o.partner_id is None or o.partner_id == partner_id)
        and (o.tier_code is None or o.tier_code == tier_code)
    ]
    if not applicable:
        return None
    return max(applicable, key=lambda o: (*_specificity(o), o.discount_bp, -o.offer_id.int))


@dataclass(frozen=True)
class Line:
    name: str
    category: str | None
    quantity_milli: int
    unit_price_minor: int
    sku: str | None = None

    @property
    def amount_minor(self) -> int:
        return div_half_up(self.quantity_milli * self.unit_price_minor, MILLI)


@dataclass(frozen=True)
class PricedLine:
    line: Line
    amount_minor: int
    discount_minor: int
    is_excluded: bool


@dataclass(frozen=True)
class Priced:
    lines: tuple[PricedLine, ...]
    subtotal_minor: int
    discount_minor: int

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor - self.discount_minor


def _allocate(cap: int, weights: Sequence[int]) -> list[int]:
    """Split cap over lines in proportion to weights, largest remainder first, summing exactly to cap."""
    total = sum(weights)
    if total == 0:
        return [0 for _ in weights]
    shares = [cap * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(cap * weights[i] % total), i))
    for i in remainders[: cap - sum(shares)]:
        shares[i] += 1
    return shares


def price(
    lines: Sequence[Line], *, discount_bp: int, max_discount_minor: int | None, excluded: frozenset[str]
) -> Priced:
    """Discount per line (none on excluded categories), half-up to kopecks, the receipt capped."""
    excluded_lower = {c.lower() for c in excluded}
    amounts = [line.amount_minor for line in lines]
    flags = [line.category is not None and line.category.lower() in excluded_lower for line in lines]
    discounts = [
        0 if skip else min(amount, div_half_up(amount * discount_bp, BP))
        for amount, skip in zip(amounts, flags, strict=True)
    ]
    if max_discount_minor is not None and sum(discounts) > max_discount_minor:
        discounts = _allocate(max_discount_minor, discounts)
    priced = tuple(
        PricedLine(line=line, amount_minor=a, discount_minor=d, is_excluded=f)
        for line, a, d, f in zip(lines, amounts, discounts, flags, strict=True)
    )
    return Priced(lines=priced, subtotal_minor=sum(amounts), discount_minor=sum(discounts))


# ---- venue programs: bonus ----


def bonus_payable(total_minor: int, balance_minor: int, max_bonus_payment_bp: int | None) -> int:
    """The most of this check the guest may pay by bonus."""
    if not max_bonus_payment_bp or balance_minor <= 0:
        return 0
    return max(0, min(balance_minor, total_minor * max_bonus_payment_bp // BP))


def bonus_accrual(paid_minor: int, bonus_bp: int | None) -> int:
    """Bonus earned on what was paid in money (not on what was paid by bonus)."""
    if not bonus_bp or paid_minor <= 0:
        return 0
    return div_half_up(paid_minor * bonus_bp, BP)


@dataclass(frozen=True)
class BonusTerms:
    """A venue program's bonus terms for this check: the tier's rates and the member's balance."""

    balance_minor: int
    bonus_bp: int | None
    max_bonus_payment_bp: int | None


@dataclass(frozen=True)
class Bill:
    """A check priced whole: the discount, then the bonus paid, then the bonus accrued on the money paid."""

    priced: Priced
    bonus_payable_minor: int
    bonus_spent_minor: int
    bonus_accrued_minor: int

    @property
    def total_minor(self) -> int:
        """What the guest pays in money."""
        return self.priced.total_minor - self.bonus_spent_minor

    @property
    def is_overdrawn(self) -> bool:
        """More bonus asked for than this check may take."""
        return self.bonus_spent_minor > self.bonus_payable_minor


def bill(priced: Priced, bonus: BonusTerms | None, pay_with_bonus_minor: int) -> Bill:
    """The one pricing of a check, for the quote and the receipt alike (bonus None: no bonus here)."""
    if bonus is None:
        return Bill(priced, 0, pay_with_bonus_minor, 0)
    payable = bonus_payable(priced.total_minor, bonus.balance_minor, bonus.max_bonus_payment_bp)
    paid = priced.total_minor - pay_with_bonus_minor
    return Bill(priced, payable, pay_with_bonus_minor, bonus_accrual(paid, bonus.bonus_bp))


# ---- tiers ----


@dataclass(frozen=True)
class TierRule:
    code: str
    metric: str | None  # "spent" | "visits" | None (the first tier)
    over: int
    period_days: int
    welcome_bonus_minor: int | None = None


def promoted_tier(
    tiers: Sequence[TierRule], current: str | None, *, spent_minor: dict[int, int], visits: dict[int, int]
) -> str | None:
    """The highest tier above the current one whose condition holds, or None to stay.

    spent_minor and visits map a period in days to the member's totals over that period.
    """
    codes = [t.code for t in tiers]
    position = codes.index(current) if current in codes else 0
    best: str | None = None
    for index in range(position + 1, len(tiers)):
        tier = tiers[index]
        if tier.metric is None:
            continue
        value = (
            spent_minor.get(tier.period_days, 0)
            if tier.metric == "spent"
            else visits.get(tier.period_days, 0)
        )
        if value > tier.over:
            best = tier.code
    return best
