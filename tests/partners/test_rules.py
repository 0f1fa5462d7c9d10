"""Apply: which offer a member gets at a venue, the discount and bonus laws in integer minor units, and
tier auto-promotion."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partners.rules import (
    BP,
    MILLI,
    Line,
    OfferTerms,
    TierRule,
    bonus_accrual,
    bonus_payable,
    choose_offer,
    div_half_up,
    price,
    promoted_tier,
)

VENUE = uuid.UUID(int=1)
OTHER_VENUE = uuid.UUID(int=2)
PARTNER = uuid.UUID(int=10)
OTHER_PARTNER = uuid.UUID(int=20)


def half_up(value: Fraction) -> int:
    """The reference rounding: Decimal's ROUND_HALF_UP on the exact value."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def offer(
    name: int,
    *,
    venue: uuid.UUID | None = None,
    partner: uuid.UUID | None = None,
    tier: str | None = None,
    bp: int = 1000,
) -> OfferTerms:
    return OfferTerms(
        offer_id=uuid.UUID(int=name),
        partner_id=partner,
        venue_id=venue,
        tier_code=tier,
        discount_bp=bp,
        max_discount_minor=None,
        excluded_categories=frozenset(),
    )


PROGRAM_WIDE = offer(1)
PROGRAM_WIDE_GOLD = offer(2, tier="gold")
AT_PARTNER = offer(3, partner=PARTNER)
AT_PARTNER_GOLD = offer(4, partner=PARTNER, tier="gold")
AT_VENUE = offer(5, venue=VENUE, partner=PARTNER)
AT_VENUE_GOLD = offer(6, venue=VENUE, tier="gold")
AT_OTHER_VENUE = offer(7, venue=OTHER_VENUE, bp=9000)
AT_OTHER_PARTNER = offer(8, partner=OTHER_PARTNER, bp=9000)
FOR_SILVER = offer(9, tier="silver", bp=9000)


# ---- offer choice ----


@pytest.mark.parametrize(
    ("offers", "tier", "chosen"),
    [
        pytest.param([], "gold", None, id="none"),
        pytest.param([PROGRAM_WIDE], "gold", PROGRAM_WIDE, id="program-wide-alone"),
        pytest.param([PROGRAM_WIDE, AT_PARTNER], None, AT_PARTNER, id="partner-beats-program-wide"),
        pytest.param([PROGRAM_WIDE, AT_PARTNER, AT_VENUE], None, AT_VENUE, id="venue-beats-partner"),
        pytest.param([AT_VENUE, AT_PARTNER, PROGRAM_WIDE], None, AT_VENUE, id="order-does-not-matter"),
        pytest.param([PROGRAM_WIDE, PROGRAM_WIDE_GOLD], "gold", PROGRAM_WIDE_GOLD, id="tier-beats-tierless"),
        pytest.param([AT_PARTNER, AT_PARTNER_GOLD], "gold", AT_PARTNER_GOLD, id="tier-at-partner"),
        pytest.param([AT_VENUE, AT_VENUE_GOLD], "gold", AT_VENUE_GOLD, id="tier-at-venue"),
        pytest.param([PROGRAM_WIDE_GOLD, AT_PARTNER_GOLD], "silver", None, id="other-tier-never"),
        pytest.param([PROGRAM_WIDE_GOLD], None, None, id="tier-offer-needs-a-tier"),
        pytest.param([AT_OTHER_VENUE, PROGRAM_WIDE], "gold", PROGRAM_WIDE, id="other-venue-never"),
        pytest.param([AT_OTHER_PARTNER, PROGRAM_WIDE], "gold", PROGRAM_WIDE, id="other-partner-never"),
        pytest.param([AT_OTHER_VENUE, AT_OTHER_PARTNER, FOR_SILVER], "gold", None, id="nothing-applies"),
        pytest.param([AT_VENUE, AT_PARTNER_GOLD, PROGRAM_WIDE_GOLD], "gold", AT_VENUE, id="venue-first"),
    ],
)
def test_choose_offer(offers: list[OfferTerms], tier: str | None, chosen: OfferTerms | None) -> None:
    """Venue beats partner beats program-wide, then a tier offer beats a tier-less one; others never apply."""
    assert choose_offer(offers, tier_code=tier, venue_id=VENUE, partner_id=PARTNER) == chosen


def test_choose_offer_venue_offer_of_another_partner_does_not_apply() -> None:
    """An offer naming this venue but another partner does not apply."""
    mismatched = offer(11, venue=VENUE, partner=OTHER_PARTNER)
    assert choose_offer([mismatched], tier_code=None, venue_id=VENUE, partner_id=PARTNER) is None


def test_choose_offer_equal_rank_takes_the_larger_discount() -> None:
    """Between two offers of the same rank the larger discount wins, whatever the order."""
    small, large = offer(12, partner=PARTNER, bp=500), offer(13, partner=PARTNER, bp=1500)
    for offers in ([small, large], [large, small]):
        assert choose_offer(offers, tier_code=None, venue_id=VENUE, partner_id=PARTNER) == large


def test_choose_offer_full_tie_is_deterministic() -> None:
    """Identical rank and discount: the same offer is chosen whatever the order."""
    first, second = offer(14), offer(15)
    a = choose_offer([first, second], tier_code=None, venue_id=VENUE, partner_id=PARTNER)
    b = choose_offer([second, first], tier_code=None, venue_id=VENUE, partner_id=PARTNER)
    assert a == b


# ---- rounding ----


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=10**9))
def test_div_half_up_matches_decimal(numerator: int, denominator: int) -> None:
    """div_half_up rounds the exact quotient half up, like Decimal's ROUND_HALF_UP."""
    assert div_half_up(numerator, denominator) == half_up(Fraction(numerator, denominator))


@pytest.mark.parametrize(
    ("numerator", "denominator", "result"), [(5, 10, 1), (4, 10, 0), (15, 10, 2), (25, 10, 3), (0, 7, 0)]
)
def test_div_half_up_table(numerator: int, denominator: int, result: int) -> None:
    """Exact halves go up (never to even); below a half goes down."""
    assert div_half_up(numerator, denominator) == result


# ---- discount ----

CATEGORIES = st.sampled_from([None, "food", "bar", "BAR", "tobacco", "Tobacco"])
LINES = st.lists(
    st.builds(
        Line,
        name=st.just("item"),
        category=CATEGORIES,
        quantity_milli=st.integers(min_value=0, max_value=20_000),
        unit_price_minor=st.integers(min_value=0, max_value=2_000_000),
    ),
    max_size=12,
)
EXCLUDED = st.frozensets(st.sampled_from(["bar", "Tobacco", "gift"]))
DISCOUNT_BP = st.integers(min_value=0, max_value=BP)


def is_excluded(line: Line, excluded: frozenset[str]) -> bool:
    return line.category is not None and line.category.lower() in {c.lower() for c in excluded}


@given(LINES, DISCOUNT_BP, st.none() | st.integers(min_value=0, max_value=10**7), EXCLUDED)
def test_discount_is_never_negative_nor_above_the_subtotal(
    lines: list[Line], bp: int, cap: int | None, excluded: frozenset[str]
) -> None:
    """Every line's discount lies in [0, line amount], so the receipt's lies in [0, subtotal]."""
    priced = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    assert all(0 <= p.discount_minor <= p.amount_minor for p in priced.lines)
    assert 0 <= priced.discount_minor <= priced.subtotal_minor
    assert priced.discount_minor == sum(p.discount_minor for p in priced.lines)
    assert priced.total_minor == priced.subtotal_minor - priced.discount_minor >= 0


@given(LINES, DISCOUNT_BP, st.none() | st.integers(min_value=0, max_value=10**7), EXCLUDED)
def test_subtotal_is_the_sum_of_half_up_line_amounts(
    lines: list[Line], bp: int, cap: int | None, excluded: frozenset[str]
) -> None:
    """Each line's amount is quantity times price, half up to minor units; the subtotal is their sum."""
    priced = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    amounts = [half_up(Fraction(line.quantity_milli * line.unit_price_minor, MILLI)) for line in lines]
    assert [p.amount_minor for p in priced.lines] == amounts
    assert priced.subtotal_minor == sum(amounts)
    assert [p.line for p in priced.lines] == lines


@given(LINES, DISCOUNT_BP, st.none() | st.integers(min_value=0, max_value=10**7), EXCLUDED)
def test_excluded_categories_get_no_discount(
    lines: list[Line], bp: int, cap: int | None, excluded: frozenset[str]
) -> None:
    """Lines in an excluded category (compared without case) get zero and are flagged."""
    priced = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    for p in priced.lines:
        assert p.is_excluded == is_excluded(p.line, excluded)
        if p.is_excluded:
            assert p.discount_minor == 0


@given(LINES, DISCOUNT_BP, EXCLUDED)
def test_uncapped_line_discount_is_its_half_up_percent(
    lines: list[Line], bp: int, excluded: frozenset[str]
) -> None:
    """Without a cap each eligible line gets exactly amount times percent rounded half up."""
    priced = price(lines, discount_bp=bp, max_discount_minor=None, excluded=excluded)
    for p in priced.lines:
        expected = 0 if p.is_excluded else half_up(Fraction(p.amount_minor * bp, BP))
        assert p.discount_minor == expected


@given(LINES, DISCOUNT_BP, st.integers(min_value=0, max_value=200_000), EXCLUDED)
def test_cap_bounds_the_total_exactly(lines: list[Line], bp: int, cap: int, excluded: frozenset[str]) -> None:
    """The capped total is exactly min(uncapped total, cap); no line gets more than it would uncapped."""
    uncapped = price(lines, discount_bp=bp, max_discount_minor=None, excluded=excluded)
    capped = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    assert capped.discount_minor == min(uncapped.discount_minor, cap)
    assert capped.subtotal_minor == uncapped.subtotal_minor
    for with_cap, without in zip(capped.lines, uncapped.lines, strict=True):
        assert 0 <= with_cap.discount_minor <= without.discount_minor


@given(LINES, DISCOUNT_BP, st.integers(min_value=0, max_value=200_000), EXCLUDED)
def test_cap_is_shared_in_proportion(lines: list[Line], bp: int, cap: int, excluded: frozenset[str]) -> None:
    """When the cap bites, each line's share is its proportional part rounded down or up by one."""
    uncapped = price(lines, discount_bp=bp, max_discount_minor=None, excluded=excluded)
    capped = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    if uncapped.discount_minor <= cap:
        assert capped == uncapped
        return
    for with_cap, without in zip(capped.lines, uncapped.lines, strict=True):
        exact = Fraction(cap * without.discount_minor, uncapped.discount_minor)
        assert exact - 1 < with_cap.discount_minor < exact + 1


def test_cap_remainder_goes_to_the_largest_remainders_first() -> None:
    """A 100 cap over three equal 50 discounts gives 34/33/33, the extra unit to the first line."""
    lines = [Line("a", None, MILLI, 500), Line("b", None, MILLI, 500), Line("c", None, MILLI, 500)]
    priced = price(lines, discount_bp=BP // 10, max_discount_minor=100, excluded=frozenset())
    assert [p.discount_minor for p in priced.lines] == [34, 33, 33]


def test_cap_remainder_goes_to_the_larger_fraction() -> None:
    """Shares 4.7/14.1/31.2 of a 50 cap round to 5/14/31: the spare unit goes to the largest fraction."""
    lines = [Line(n, None, MILLI, 10 * d) for n, d in (("a", 47), ("b", 141), ("c", 312))]
    priced = price(lines, discount_bp=BP // 10, max_discount_minor=50, excluded=frozenset())
    assert [p.discount_minor for p in priced.lines] == [5, 14, 31]


def test_cap_remainder_tie_goes_to_the_earlier_line() -> None:
    """Shares 5.0/14.5/30.5 of a 50 cap: one spare unit, equal fractions, the earlier line takes it."""
    lines = [Line(n, None, MILLI, 10 * d) for n, d in (("a", 10), ("b", 29), ("c", 61))]
    priced = price(lines, discount_bp=BP // 10, max_discount_minor=50, excluded=frozenset())
    assert [p.discount_minor for p in priced.lines] == [5, 15, 30]


@pytest.mark.parametrize(
    ("lines", "bp", "cap", "excluded", "discounts"),
    [
        pytest.param([Line("soup", "food", 1000, 1000)], 1000, None, frozenset(), [100], id="ten-percent"),
        pytest.param([Line("tea", "food", 1000, 5)], 1000, None, frozenset(), [1], id="half-kopeck-up"),
        pytest.param([Line("tea", "food", 1000, 4)], 1000, None, frozenset(), [0], id="below-half-down"),
        pytest.param([Line("fish", "food", 500, 1999)], 1000, None, frozenset(), [100], id="half-kilo"),
        pytest.param(
            [Line("wine", "Bar", 1000, 5000), Line("steak", "food", 1000, 5000)],
            2000,
            None,
            frozenset({"bar"}),
            [0, 1000],
            id="excluded-any-case",
        ),
        pytest.param(
            [Line("a", None, 1000, 10_000), Line("b", None, 1000, 30_000)],
            1000,
            1000,
            frozenset(),
            [250, 750],
            id="cap-proportional",
        ),
        pytest.param([Line("a", None, 1000, 10_000)], 1000, 0, frozenset(), [0], id="zero-cap"),
        pytest.param([Line("a", None, 1000, 10_000)], 0, None, frozenset(), [0], id="zero-percent"),
        pytest.param([Line("a", None, 1000, 10_000)], BP, None, frozenset(), [10_000], id="hundred-percent"),
        pytest.param([], 1000, 100, frozenset(), [], id="empty-receipt"),
    ],
)
def test_price_table(
    lines: list[Line], bp: int, cap: int | None, excluded: frozenset[str], discounts: list[int]
) -> None:
    """Worked receipts: percent per line half up, exclusions, caps."""
    priced = price(lines, discount_bp=bp, max_discount_minor=cap, excluded=excluded)
    assert [p.discount_minor for p in priced.lines] == discounts
    assert priced.discount_minor == sum(discounts)


# ---- bonus ----


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=-(10**6), max_value=10**9),
    st.none() | st.integers(min_value=0, max_value=BP),
)
def test_bonus_payable_is_bounded_by_balance_and_percent(total: int, balance: int, bp: int | None) -> None:
    """Payable bonus is never negative, never above the balance, never above the percent of the total."""
    payable = bonus_payable(total, balance, bp)
    assert 0 <= payable <= max(balance, 0)
    assert Fraction(payable) <= Fraction(total * (bp or 0), BP)
    assert payable == min(max(balance, 0), total * (bp or 0) // BP)


@pytest.mark.parametrize(
    ("total", "balance", "bp", "payable"),
    [
        (19_000, 9_500, 3000, 5_700),
        (19_000, 1_000, 3000, 1_000),
        (19_000, 9_500, None, 0),
        (19_000, 9_500, 0, 0),
        (19_000, 0, 3000, 0),
        (19_000, -5, 3000, 0),
        (999, 10_000, 5000, 499),
        (19_000, 50_000, BP, 19_000),
    ],
)
def test_bonus_payable_table(total: int, balance: int, bp: int | None, payable: int) -> None:
    """Worked examples: the percent cap rounds down, the balance caps, no percent means no bonus payment."""
    assert bonus_payable(total, balance, bp) == payable


@given(st.integers(min_value=-(10**6), max_value=10**10), st.none() | st.integers(min_value=0, max_value=BP))
def test_bonus_accrual_is_half_up_percent_of_money_paid(paid: int, bp: int | None) -> None:
    """Accrual is paid times percent rounded half up; nothing for nothing paid or no percent."""
    expected = half_up(Fraction(paid * bp, BP)) if bp and paid > 0 else 0
    assert bonus_accrual(paid, bp) == expected


@pytest.mark.parametrize(("paid", "bp", "accrued"), [(1200_00, 1000, 120_00), (5, 1000, 1), (4, 1000, 0)])
def test_bonus_accrual_table(paid: int, bp: int, accrued: int) -> None:
    """1200 ₽ at 10 % accrues 120 ₽; half a kopeck rounds up, less rounds down."""
    assert bonus_accrual(paid, bp) == accrued


# ---- tiers ----

BASE = TierRule("base", None, 0, 365)
SILVER = TierRule("silver", "spent", 15_000_00, 365)
GOLD = TierRule("gold", "visits", 10, 90, welcome_bonus_minor=500_00)
PLATINUM = TierRule("platinum", "spent", 100_000_00, 365)
TIERS = [BASE, SILVER, GOLD, PLATINUM]


@pytest.mark.parametrize(
    ("current", "spent", "visits", "promoted"),
    [
        pytest.param("base", 15_000_00, 0, None, id="exactly-x-is-not-more"),
        pytest.param("base", 15_000_01, 0, "silver", id="spent-more-than-x"),
        pytest.param("base", 0, 11, "gold", id="skips-a-level"),
        pytest.param("base", 15_000_01, 11, "gold", id="highest-that-holds"),
        pytest.param("base", 100_000_01, 11, "platinum", id="top"),
        pytest.param("silver", 15_000_01, 0, None, id="already-there"),
        pytest.param("gold", 15_000_01, 0, None, id="never-demotes"),
        pytest.param("platinum", 0, 0, None, id="top-stays"),
        pytest.param(None, 15_000_01, 0, "silver", id="no-tier-yet"),
        pytest.param("unknown", 0, 11, "gold", id="unknown-current-counts-as-first"),
    ],
)
def test_promoted_tier_table(current: str | None, spent: int, visits: int, promoted: str | None) -> None:
    """The highest tier above the current one whose 'more than' condition holds; None means stay."""
    result = promoted_tier(TIERS, current, spent_minor={365: spent}, visits={90: visits})
    assert result == promoted


def test_promoted_tier_reads_each_tiers_own_period() -> None:
    """A tier's condition is measured over its own period_days, not another tier's."""
    assert promoted_tier(TIERS, "base", spent_minor={365: 0}, visits={365: 50, 90: 3}) is None
    assert promoted_tier(TIERS, "base", spent_minor={}, visits={90: 11}) == "gold"


@st.composite
def tier_ladders(draw: st.DrawFn) -> list[TierRule]:
    size = draw(st.integers(min_value=1, max_value=6))
    tiers = [TierRule("t0", None, 0, 365)]
    for index in range(1, size):
        metric = draw(st.sampled_from(["spent", "visits", None]))
        over = draw(st.integers(min_value=0, max_value=100))
        tiers.append(TierRule(f"t{index}", metric, over, draw(st.sampled_from([30, 90, 365]))))
    return tiers


PERIOD_TOTALS = st.dictionaries(st.sampled_from([30, 90, 365]), st.integers(min_value=0, max_value=120))


@given(tier_ladders(), st.integers(min_value=0, max_value=5), PERIOD_TOTALS, PERIOD_TOTALS)
def test_promoted_tier_matches_an_oracle_and_never_demotes(
    tiers: list[TierRule], at: int, spent: dict[int, int], visits: dict[int, int]
) -> None:
    """The result is the highest higher tier whose condition holds (oracle), so never at or below current."""
    current = tiers[min(at, len(tiers) - 1)].code
    position = [t.code for t in tiers].index(current)
    totals = {"spent": spent, "visits": visits}
    holding = [
        t.code
        for t in tiers[position + 1 :]
        if t.metric is not None and totals[t.metric].get(t.period_days, 0) > t.over
    ]
    result = promoted_tier(tiers, current, spent_minor=spent, visits=visits)
    assert result == (holding[-1] if holding else None)
    if result is not None:
        assert [t.code for t in tiers].index(result) > position
