"""FarCards ↔ hub, the pure half: money units and rounding, transaction signs, check lines, chmode."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.rkeeper import mapping, wire
from connectors.rkeeper.mapping import CheckMode, Intent


@pytest.mark.parametrize(
    ("roubles", "minor"),
    [
        ("0", 0),
        ("0.15", 15),
        ("1", 100),
        ("450.50", 45050),
        ("89.9", 8990),
        ("-226.45", -22645),
        ("0.005", 1),  # a tie goes up
        ("0.0049", 0),
        ("0.015", 2),
        ("0.025", 3),  # half-up, not banker's rounding (which gives 2 here and 0 for 0.005)
        ("-0.005", -1),  # ties go away from zero
        ("177.000000000001", 17700),
        ("12345678901234567890.123456789012", 1234567890123456789012),  # 32 digits, still exact
    ],
)
def test_roubles_to_minor(roubles: str, minor: int) -> None:
    """Roubles in the check → kopecks: exact for whole kopecks, a sub-kopeck rest rounded half-up."""
    assert mapping.roubles_to_minor(Decimal(roubles)) == minor


@given(kopecks=st.integers(-(10**15), 10**15))
def test_whole_kopecks_convert_exactly(kopecks: int) -> None:
    """Any whole number of kopecks written as roubles comes back unchanged."""
    assert mapping.roubles_to_minor(Decimal(kopecks).scaleb(-2)) == kopecks


@given(
    value=st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False)
)
def test_sub_kopeck_rounding_is_half_up_on_the_exact_value(value: Decimal) -> None:
    """The result is the exact value x 100 rounded half away from zero: never over half a kopeck off."""
    exact = Fraction(value) * 100
    quotient = Decimal(exact.numerator) / Decimal(exact.denominator)  # exact: a power of 2 and 5 below
    reference = int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    minor = mapping.roubles_to_minor(value)
    assert minor == reference
    assert abs(Fraction(minor) - exact) <= Fraction(1, 2)


@pytest.mark.parametrize(
    ("summa", "unit", "minor"),
    [(15000, "kopecks", 15000), (150, "rubles", 15000), (-500, "kopecks", -500), (-5, "rubles", -500)],
)
def test_summa_to_minor(summa: int, unit: mapping.MoneyUnit, minor: int) -> None:
    """Summa in kopecks is taken as is; in roubles it is x 100."""
    assert mapping.summa_to_minor(summa, unit) == minor


@pytest.mark.parametrize(
    ("minor", "unit", "summa"),
    [(15000, "kopecks", 15000), (15099, "rubles", 150), (-15099, "rubles", -150), (99, "rubles", 0)],
)
def test_minor_to_summa(minor: int, unit: mapping.MoneyUnit, summa: int) -> None:
    """Kopecks to the till's unit: roubles are cut toward zero, so a limit is never more than allowed."""
    assert mapping.minor_to_summa(minor, unit) == summa


@given(summa=st.integers(-(2**62), 2**62), unit=st.sampled_from(["kopecks", "rubles"]))
def test_summa_round_trips_through_minor_units(summa: int, unit: mapping.MoneyUnit) -> None:
    """Any Summa of either unit → kopecks → back is the same Summa."""
    assert mapping.minor_to_summa(mapping.summa_to_minor(summa, unit), unit) == summa


@given(minor=st.integers(-(2**62), 2**62))
def test_roubles_sent_never_exceed_the_kopecks_allowed(minor: int) -> None:
    """In roubles, what the till gets is within one rouble of the hub's figure and never beyond it."""
    back = mapping.summa_to_minor(mapping.minor_to_summa(minor, "rubles"), "rubles")
    assert abs(back) <= abs(minor)
    assert abs(minor) - abs(back) < 100
    assert back * minor >= 0


def tx(kind: int, summa: int, card: int = 8002) -> wire.Transaction:
    return wire.Transaction(Card=card, Kind=kind, Summa=summa)


PAID = [tx(0, -15000), tx(1, -20475), tx(2, 2600), tx(3, 226800)]


def test_check_money_sums_by_kind_with_the_dll_signs() -> None:
    """Bonus paid = -Kind 0, discount = -Kind 1, accrual = Kind 2, guest spend = Kind 3."""
    assert mapping.check_money(PAID, "kopecks") == mapping.CheckMoney(
        bonus_paid_minor=15000,
        discount_applied_minor=20475,
        bonus_accrued_minor=2600,
        guest_spend_minor=226800,
    )


def test_check_money_in_roubles() -> None:
    """With money_unit rubles every Summa is roubles: 150 → 15000 kopecks."""
    money = mapping.check_money([tx(0, -150), tx(3, 2268)], "rubles")
    assert (money.bonus_paid_minor, money.guest_spend_minor) == (15000, 226800)


def test_a_refund_is_the_negation_of_the_payment() -> None:
    """The return of a check repeats its transactions with opposite signs: every sum flips."""
    paid = mapping.check_money(PAID, "kopecks")
    refunded = mapping.check_money([tx(t.Kind, -t.Summa) for t in PAID], "kopecks")
    assert refunded == mapping.CheckMoney(
        bonus_paid_minor=-paid.bonus_paid_minor,
        discount_applied_minor=-paid.discount_applied_minor,
        bonus_accrued_minor=-paid.bonus_accrued_minor,
        guest_spend_minor=-paid.guest_spend_minor,
    )


def test_several_records_of_a_kind_add_up_and_one_card_can_be_picked() -> None:
    """Two payments add up; with `card`, another card's records are left out."""
    records = [tx(0, -1000), tx(0, -500), tx(0, -700, card=7020), tx(3, 100, card=7020)]
    assert mapping.check_money(records, "kopecks").bonus_paid_minor == 2200
    assert mapping.check_money(records, "kopecks", card=8002).bonus_paid_minor == 1500
    assert mapping.check_money(records, "kopecks", card=7020).guest_spend_minor == 100


@given(summas=st.lists(st.tuples(st.integers(0, 3), st.integers(-(10**9), 10**9)), max_size=20))
def test_check_money_is_linear(summas: list[tuple[int, int]]) -> None:
    """Money is conserved: the signed totals add back to the plain sum of the Summas per Kind."""
    money = mapping.check_money([tx(kind, summa) for kind, summa in summas], "kopecks")
    by_kind = {kind: sum(s for k, s in summas if k == kind) for kind in range(4)}
    assert (money.bonus_paid_minor, money.discount_applied_minor) == (-by_kind[0], -by_kind[1])
    assert (money.bonus_accrued_minor, money.guest_spend_minor) == (by_kind[2], by_kind[3])


def line(**fields: object) -> wire.Line:
    defaults: dict[str, object] = {
        "name": "Борщ",
        "code": "101",
        "price": Decimal("450.50"),
        "quantity": Decimal(2),
    }
    return wire.Line(**{**defaults, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given_line", "expected"),
    [
        (
            line(categ_id="Супы", sum=Decimal("810.90")),
            mapping.ReceiptLine("Борщ", "Супы", Decimal(2), 45050, "101", 81090),
        ),
        (
            line(name="Сыр сулугуни", code="305", price=Decimal("1180.00"), quantity=Decimal("0.150")),
            mapping.ReceiptLine("Сыр сулугуни", None, Decimal("0.150"), 118000, "305", None),
        ),
        (
            line(price=None, pr_list_sum=Decimal("449.50"), quantity=Decimal(5), sum=Decimal("404.55")),
            mapping.ReceiptLine("Борщ", None, Decimal(5), 8990, "101", 40455),
        ),
        (
            line(price=None, sum=Decimal("100.00"), quantity=Decimal(3)),
            mapping.ReceiptLine("Борщ", None, Decimal(3), 3333, "101", 10000),
        ),
        (line(name="  ", code="777"), mapping.ReceiptLine("777", None, Decimal(2), 45050, "777", None)),
        (line(name=None, code=None), mapping.ReceiptLine("?", None, Decimal(2), 45050, None, None)),
        (line(price=Decimal(0), type="dish"), mapping.ReceiptLine("Борщ", None, Decimal(2), 0, "101", None)),
        (line(price=Decimal(0), type="modify"), None),
        (line(quantity=Decimal(0)), None),
        (line(quantity=Decimal(-1)), None),
        (line(quantity=None), None),
        (line(price=None), None),
        (line(price=Decimal("-50.00")), None),
    ],
)
def test_receipt_line(given_line: wire.Line, expected: mapping.ReceiptLine | None) -> None:
    """A LINE → name, category (categ_id), quantity, unit price in kopecks, sku (code), what was charged."""
    assert mapping.receipt_line(given_line) == expected


def test_receipt_line_texts_fit_the_receipt() -> None:
    """Name, category and sku are cut to the receipt's 200, 80 and 64 characters."""
    found = mapping.receipt_line(line(name="Щ" * 300, categ_id="Ж" * 100, code="7" * 70))
    assert found is not None
    assert (len(found.name), len(found.category or ""), len(found.sku or "")) == (200, 80, 64)


def test_receipt_lines_keep_the_check_order_and_drop_non_sales() -> None:
    """The sale lines of CHECKDATA in order; a check without CHECKDATA, or none at all, has no lines."""
    lines = (line(name="Борщ"), line(name="Без лука", price=Decimal(0), type="modify"), line(name="Хинкали"))
    check = wire.Check(chmode=1, checkdata=wire.CheckData(checklines=lines))
    assert [found.name for found in mapping.receipt_lines(check)] == ["Борщ", "Хинкали"]
    assert mapping.receipt_lines(wire.Check(chmode=1)) == ()
    assert mapping.receipt_lines(None) == ()


@pytest.mark.parametrize(
    ("chmode", "intent", "name"),
    [
        (0, Intent.LOOK, "not_a_check"),
        (1, Intent.PAYMENT, "payment"),
        (2, Intent.ROLLBACK, "payment_rollback"),
        (3, Intent.RETURN, "return"),
        (4, Intent.RETURN_ROLLBACK, "return_rollback"),
        (5, Intent.LOOK, "order_editing"),
        (6, Intent.LOOK, "bill"),
        (7, Intent.LOOK, "payment_screen"),
        (8, Intent.LOOK, "card_info_print"),
        (9, Intent.OTHER, "entrance_order"),
        (10, Intent.OTHER, "after_transactions"),
        (11, Intent.OTHER, "service_print"),
        (12, Intent.OTHER, "bill_cancel"),
        (13, Intent.LOOK, "before_transactions"),
        (14, Intent.OTHER, "unknown"),
        (None, Intent.OTHER, "unknown"),
    ],
)
def test_chmode(chmode: int | None, intent: Intent, name: str) -> None:
    """0, 5, 6, 7, 8, 13 only look; 1 pays, 2 rolls back, 3 returns, 4 undoes the return; others: caller's."""
    assert mapping.intent_of(chmode) is intent
    assert mapping.is_look_only(chmode) is (intent is Intent.LOOK)
    assert mapping.chmode_name(chmode) == name


def test_look_only_modes_are_the_documented_six() -> None:
    """The look-only set is exactly {0, 5, 6, 7, 8, 13}."""
    assert {int(mode) for mode in mapping.LOOK_ONLY} == {0, 5, 6, 7, 8, 13}
    assert CheckMode.BEFORE_TRANSACTIONS in mapping.LOOK_ONLY
