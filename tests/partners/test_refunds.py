"""How a refund splits (pure): money back, and in proportion the discount and both bonus movements."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from partners.settlement import Check, Refunded, refund_of


@st.composite
def checks(draw: st.DrawFn) -> Check:
    subtotal = draw(st.integers(min_value=0, max_value=10**9))
    discount = draw(st.integers(min_value=0, max_value=subtotal))
    spent = draw(st.integers(min_value=0, max_value=subtotal - discount))
    paid = subtotal - discount - spent
    accrued = draw(st.integers(min_value=0, max_value=paid))
    return Check(
        total_minor=paid, discount_minor=discount, bonus_spent_minor=spent, bonus_accrued_minor=accrued
    )


def refund_all(check: Check, cuts: list[int]) -> list[Refunded]:
    """Refund the check in pieces cut at these points of its total, the rest without an amount."""
    refunds: list[Refunded] = []
    refunded = returned = 0
    for cut in sorted({c for c in cuts if 0 < c < check.total_minor}):
        part = refund_of(check, refunded_minor=refunded, returned_minor=returned, amount_minor=cut - refunded)
        assert part is not None
        refunds.append(part)
        refunded, returned = refunded + part.amount_minor, returned + part.bonus_returned_minor
    rest = refund_of(check, refunded_minor=refunded, returned_minor=returned, amount_minor=None)
    if rest is not None:
        refunds.append(rest)
        refunded, returned = refunded + rest.amount_minor, returned + rest.bonus_returned_minor
    assert refund_of(check, refunded_minor=refunded, returned_minor=returned, amount_minor=None) is None
    return refunds


@given(checks(), st.lists(st.integers(min_value=0, max_value=10**9), max_size=6))
def test_partial_refunds_add_up_to_exactly_the_full_refund(check: Check, cuts: list[int]) -> None:
    """Whatever the pieces, the refunds give back exactly the money paid and the bonus paid, and take back
    exactly the discount and the bonus earned; no piece is negative."""
    scaled = [c % (check.total_minor + 1) for c in cuts]
    refunds = refund_all(check, scaled)
    whole = refund_all(check, [])
    assert len(whole) == (1 if check.total_minor or check.bonus_spent_minor else 0)
    for name, figure in (
        ("amount_minor", check.total_minor),
        ("discount_reversed_minor", check.discount_minor),
        ("bonus_returned_minor", check.bonus_spent_minor),
        ("bonus_reversed_minor", check.bonus_accrued_minor),
    ):
        expected = figure if whole else 0  # a free check (nothing paid, no bonus) has nothing to refund
        assert sum(getattr(r, name) for r in refunds) == expected, name
        assert sum(getattr(r, name) for r in whole) == expected, name
        assert all(getattr(r, name) >= 0 for r in refunds), name


def test_a_full_refund_returns_the_bonus_paid_and_takes_back_the_bonus_earned() -> None:
    """The check of the issue: 6 000 paid by bonus, 5 700 earned: a full refund gives 6 000 back and
    takes 5 700 away (not just the 5 700)."""
    check = Check(
        total_minor=114_000, discount_minor=6_000, bonus_spent_minor=6_000, bonus_accrued_minor=5_700
    )
    full = refund_of(check, refunded_minor=0, returned_minor=0, amount_minor=None)
    assert full == Refunded(
        amount_minor=114_000,
        discount_reversed_minor=6_000,
        bonus_reversed_minor=5_700,
        bonus_returned_minor=6_000,
    )


def test_half_the_money_returns_half_of_everything() -> None:
    """Refunding half of what was paid returns half the bonus paid and reverses half the bonus earned."""
    check = Check(total_minor=10_000, discount_minor=1_000, bonus_spent_minor=3_000, bonus_accrued_minor=700)
    half = refund_of(check, refunded_minor=0, returned_minor=0, amount_minor=5_000)
    assert half == Refunded(5_000, 500, 350, 1_500)


def test_refused_amounts() -> None:
    """More than is left, or anything once all is refunded, is not a refund."""
    check = Check(total_minor=10_000, discount_minor=0, bonus_spent_minor=100)
    assert refund_of(check, refunded_minor=4_000, returned_minor=40, amount_minor=6_001) is None
    assert refund_of(check, refunded_minor=10_000, returned_minor=100, amount_minor=None) is None


def test_a_check_paid_wholly_by_bonus_is_refunded_once_without_an_amount() -> None:
    """Nothing paid in money: one refund (no amount) returns the bonus; an amount, or a second, is refused."""
    check = Check(total_minor=0, discount_minor=500, bonus_spent_minor=9_500)
    assert refund_of(check, refunded_minor=0, returned_minor=0, amount_minor=1) is None
    assert refund_of(check, refunded_minor=0, returned_minor=0, amount_minor=None) == Refunded(
        0, 500, 0, 9_500
    )
    assert refund_of(check, refunded_minor=0, returned_minor=9_500, amount_minor=None) is None
