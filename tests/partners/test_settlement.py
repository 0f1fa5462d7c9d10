"""Settlement arithmetic: discount funding splits, fees, refunds that reverse exactly, period bounds."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partners.rules import BP, div_half_up
from partners.settlement import (
    NO_FEES,
    FeeTerms,
    Figures,
    Period,
    Sale,
    fee_entry,
    fee_schedule,
    fees_in_force,
    parse_period,
    refund_figures,
    sale_figures,
    split_discount,
    total,
)

MONEY = st.integers(min_value=0, max_value=10**12)
SHARE_BP = st.integers(min_value=0, max_value=BP)
FEES = st.builds(
    FeeTerms,
    per_visit_minor=st.integers(min_value=0, max_value=10**7),
    percent_of_check_bp=st.integers(min_value=0, max_value=BP),
)
UTC = dt.UTC


@st.composite
def sales(draw: st.DrawFn) -> Sale:
    """A receipt as the flow writes it: total = subtotal - discount, the discount at most the subtotal."""
    subtotal = draw(st.integers(min_value=1, max_value=10**12))
    discount = draw(st.integers(min_value=0, max_value=subtotal))
    return Sale(
        subtotal_minor=subtotal,
        discount_minor=discount,
        total_minor=subtotal - discount,
        coalition_bp=draw(SHARE_BP),
        fees=draw(FEES),
    )


@st.composite
def refund_runs(draw: st.DrawFn, *, full: bool) -> tuple[Sale, list[int]]:
    """A sale and the amounts of a run of partial refunds (ending in a full refund when full is set)."""
    sale = draw(sales().filter(lambda s: s.total_minor > 0))
    cuts = draw(st.lists(st.integers(min_value=1, max_value=sale.total_minor), max_size=6))
    points = sorted({c for c in cuts if c < sale.total_minor} | ({sale.total_minor} if full else set()))
    return sale, [b - a for a, b in zip([0, *points], points, strict=False)]


def run(sale: Sale, amounts: list[int]) -> list[Figures]:
    lines, before = [], 0
    for amount in amounts:
        lines.append(refund_figures(sale, before, amount))
        before += amount
    return lines


@given(MONEY, SHARE_BP)
def test_shares_always_sum_to_the_discount(discount: int, coalition_bp: int) -> None:
    """Coalition and venue shares are non-negative and add up to the discount, to the minor unit."""
    split = split_discount(discount, coalition_bp)
    assert split.coalition_minor + split.venue_minor == discount
    assert split.coalition_minor >= 0
    assert split.venue_minor >= 0


@pytest.mark.parametrize(
    ("discount", "coalition_bp", "coalition", "venue"),
    [
        (1000, 0, 0, 1000),
        (1000, BP, 1000, 0),
        (1000, 3000, 300, 700),
        (1, 5000, 1, 0),  # half up
        (3, 3333, 1, 2),
        (10001, 5000, 5001, 5000),
    ],
)
def test_split_table(discount: int, coalition_bp: int, coalition: int, venue: int) -> None:
    """Known splits: 0 %, 100 %, 30 %, and halves rounded up for the coalition."""
    split = split_discount(discount, coalition_bp)
    assert (split.coalition_minor, split.venue_minor) == (coalition, venue)


@given(sales())
def test_a_sale_line_splits_and_charges_fees(sale: Sale) -> None:
    """A sale counts one receipt, its shares sum to its discount, and its fees follow the program's terms."""
    line = sale_figures(sale)
    assert (line.visits, line.receipts) == (0, 1)  # the visit itself is counted from the visits
    assert line.coalition_share_minor + line.venue_share_minor == line.discount_minor == sale.discount_minor
    assert line.fee_per_visit_minor == sale.fees.per_visit_minor
    assert line.fee_percent_minor == div_half_up(sale.total_minor * sale.fees.percent_of_check_bp, BP)
    assert line.fees_minor == line.fee_per_visit_minor + line.fee_percent_minor


@given(refund_runs(full=True))
def test_a_full_refund_reverses_exactly(case: tuple[Sale, list[int]]) -> None:
    """However a receipt is refunded in parts, once it is refunded in full every money figure nets to zero."""
    sale, refunds = case
    net = total([sale_figures(sale), *run(sale, refunds)])
    money = {f.name: getattr(net, f.name) for f in fields(net) if f.name.endswith("_minor")}
    assert money == dict.fromkeys(money, 0)
    assert (net.receipts, net.refunds) == (1, len(refunds))


@given(refund_runs(full=False))
def test_partial_refunds_never_over_reverse(case: tuple[Sale, list[int]]) -> None:
    """After any prefix of partial refunds, nothing is reversed below zero or past what the sale had."""
    sale, refunds = case
    whole = sale_figures(sale)
    reversed_so_far = Figures()
    for line in run(sale, refunds):
        assert line.coalition_share_minor + line.venue_share_minor == line.discount_minor
        reversed_so_far = reversed_so_far + line
        for f in fields(whole):
            if f.name.endswith("_minor"):
                done, had = -getattr(reversed_so_far, f.name), getattr(whole, f.name)
                assert 0 <= done <= had, (f.name, done, had)
    assert reversed_so_far.fee_per_visit_minor == 0  # only a full refund undoes the visit


@given(refund_runs(full=True))
def test_each_refund_moves_every_figure_one_way(case: tuple[Sale, list[int]]) -> None:
    """No refund line gives anything back: each money figure of a refund is zero or negative."""
    sale, refunds = case
    for line in run(sale, refunds):
        assert all(getattr(line, f.name) <= 0 for f in fields(line) if f.name.endswith("_minor"))


def test_a_worked_example() -> None:
    """A 10 000 check, 1 000 discount 30 % coalition-funded, fees 50 + 2 %, refunded 4 500 then 4 500."""
    sale = Sale(
        subtotal_minor=10_000,
        discount_minor=1_000,
        total_minor=9_000,
        coalition_bp=3000,
        fees=FeeTerms(per_visit_minor=50, percent_of_check_bp=200),
    )
    line = sale_figures(sale)
    assert (line.coalition_share_minor, line.venue_share_minor, line.fees_minor) == (300, 700, 50 + 180)
    first = refund_figures(sale, 0, 4_500)
    assert (first.paid_minor, first.discount_minor, first.coalition_share_minor) == (-4_500, -500, -150)
    assert (first.fee_per_visit_minor, first.fee_percent_minor, first.check_sum_minor) == (0, -90, -5_000)
    second = refund_figures(sale, 4_500, 4_500)
    assert (second.fee_per_visit_minor, second.coalition_share_minor) == (-50, -150)


def test_fees_in_force_follow_the_schedule() -> None:
    """A fee change applies from its moment on; earlier sales keep the terms they were written under."""
    changed = dt.datetime(2026, 3, 10, tzinfo=UTC)
    schedule = [FeeTerms(per_visit_minor=100), FeeTerms(effective_at=changed, percent_of_check_bp=150)]
    assert fees_in_force(schedule, changed - dt.timedelta(seconds=1)).per_visit_minor == 100
    assert fees_in_force(schedule, changed).percent_of_check_bp == 150
    assert fees_in_force([], changed) == NO_FEES
    assert fee_schedule({"schedule": [fee_entry(t) for t in schedule]}) == schedule
    assert fee_schedule({}) == []


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("UTC", "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("Europe/Moscow", "2026-01-31T21:00:00+00:00", "2026-02-28T21:00:00+00:00"),
        ("America/New_York", "2026-02-01T05:00:00+00:00", "2026-03-01T05:00:00+00:00"),
    ],
)
def test_period_bounds_are_local_midnights(zone: str, start: str, end: str) -> None:
    """February 2026 runs from local midnight on the 1st to local midnight on March 1st, in UTC."""
    period = parse_period("2026-02")
    assert period is not None
    assert period.bounds(zone) == (dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end))


def test_december_ends_in_january_and_dst_is_followed() -> None:
    """December ends at the next year's first local midnight; a DST month keeps local edges."""
    assert Period(2026, 12).bounds("UTC")[1] == dt.datetime(2027, 1, 1, tzinfo=UTC)
    start, end = Period(2026, 3).bounds("Europe/Berlin")
    assert (start.hour, end.hour) == (23, 22)  # CET at the start, CEST at the end


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-01", "2026-1", "2026-01-01", "", "abcd-ef"])
def test_bad_periods_are_refused(text: str) -> None:
    """Only YYYY-MM with a real month is a period."""
    assert parse_period(text) is None
