"""Pure decisions between FarCards' shapes and the hub's: money units, a check's transactions, its
lines, and what each `chmode` asks for. No I/O here.

Facts relied on (sources in wire.py's docstring):
- Money in INPBUF's CHECK is decimal roubles; the DLL's records (Summa, DiscLimit, Sum2..8, a
  TRANSACTION's value) are kopecks [V/R]. Whether ExtDllHTTP's XML keeps kopecks is not written down
  anywhere [I], so an integration says: `money_unit` "kopecks" (the default: AndryPol's tunnel writes
  amounts x 100, RKVitaly's sample Summa="15000" reads as kopecks) or "rubles".
- Transaction signs [V: Extdll6]: Kind 0 payment from the card's account is negative (its cancel
  positive); Kind 1 a discount negative (cancel positive); Kind 2 a bonus accrual positive (cancel
  negative); Kind 3 the guest's own money positive (check cancel negative). A refund repeats the
  check with opposite signs.
- chmode [R: AndryPol `CheckModes.cs`, after the UCS XML page]: 0 not a check, 1 payment, 2 rollback of
  a payment, 3 return, 4 rollback of a return, 5 order editing, 6 bill (pre-check) print, 7 payment
  screen, 8 card info print, 9 order at the entrance, 10 after transactions (slips), 11 service print,
  12 bill cancel, 13 before transactions (protocol 28+). GetCardInfoEx is called under many of them,
  several times per check; only 1 to 4 change money.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import IntEnum, StrEnum
from typing import Literal

from connectors.rkeeper import wire

MoneyUnit = Literal["kopecks", "rubles"]
KOPECKS_PER_RUBLE = 100
NAME_LIMIT, CATEGORY_LIMIT, SKU_LIMIT = 200, 80, 64  # the receipt line's limits (hub.flow ItemIn)


class CheckMode(IntEnum):
    NOT_A_CHECK = 0
    PAYMENT = 1
    PAYMENT_ROLLBACK = 2
    RETURN = 3
    RETURN_ROLLBACK = 4
    ORDER_EDITING = 5
    BILL = 6
    PAYMENT_SCREEN = 7
    CARD_INFO_PRINT = 8
    ENTRANCE_ORDER = 9
    AFTER_TRANSACTIONS = 10
    SERVICE_PRINT = 11
    BILL_CANCEL = 12
    BEFORE_TRANSACTIONS = 13


class Intent(StrEnum):
    """What a call under a chmode means for the hub."""

    LOOK = "look"  # the till only asks what the hub knows: nothing is written
    PAYMENT = "payment"  # the check is paid: its receipt
    ROLLBACK = "rollback"  # the till could not finish a payment the hub confirmed: undo it
    RETURN = "return"  # the paid check is returned: refund it
    RETURN_ROLLBACK = "return_rollback"  # the till could not finish a return the hub confirmed
    OTHER = "other"  # 9-12, an unknown mode, or no CHECK at all: the caller decides


LOOK_ONLY = frozenset(
    {
        CheckMode.NOT_A_CHECK,
        CheckMode.ORDER_EDITING,
        CheckMode.BILL,
        CheckMode.PAYMENT_SCREEN,
        CheckMode.CARD_INFO_PRINT,
        CheckMode.BEFORE_TRANSACTIONS,
    }
)
_INTENTS: dict[int, Intent] = {
    CheckMode.PAYMENT: Intent.PAYMENT,
    CheckMode.PAYMENT_ROLLBACK: Intent.ROLLBACK,
    CheckMode.RETURN: Intent.RETURN,
    CheckMode.RETURN_ROLLBACK: Intent.RETURN_ROLLBACK,
}


def is_look_only(chmode: int | None) -> bool:
    """True for the modes under which the till only looks (0, 5, 6, 7, 8, 13)."""
    return chmode in LOOK_ONLY


def intent_of(chmode: int | None) -> Intent:
    if chmode is None:
        return Intent.OTHER
    if is_look_only(chmode):
        return Intent.LOOK
    return _INTENTS.get(chmode, Intent.OTHER)


def chmode_name(chmode: int | None) -> str:
    """The mode's name for logs and the dashboard ("unknown" outside 0..13)."""
    try:
        return CheckMode(chmode if chmode is not None else -1).name.lower()
    except ValueError:
        return "unknown"


# --- money ------------------------------------------------------------------------------------


def roubles_to_minor(roubles: Decimal) -> int:
    """Kopecks of a decimal rouble amount: exact for whole kopecks; a sub-kopeck rest is rounded half-up
    (Decimal's ROUND_HALF_UP: a tie goes away from zero, so 0.005 → 1 and -0.005 → -1)."""
    with localcontext() as context:
        context.prec = 80  # the parser reads at most 20 + 12 digits: never rounded before the quantize
        return int((roubles * KOPECKS_PER_RUBLE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def summa_to_minor(summa: int, unit: MoneyUnit) -> int:
    """An amount of the integration's unit (Summa, DiscLimit, VatSum…) in kopecks; exact."""
    return summa * KOPECKS_PER_RUBLE if unit == "rubles" else summa


def minor_to_summa(minor: int, unit: MoneyUnit) -> int:
    """Kopecks in the integration's unit; whole roubles are cut toward zero, so a limit or a payable
    amount sent to the till never exceeds what the hub allows."""
    if unit == "kopecks":
        return minor
    whole = abs(minor) // KOPECKS_PER_RUBLE
    return whole if minor >= 0 else -whole


@dataclass(frozen=True)
class CheckMoney:
    """A request's transactions summed by Kind, with the hub's signs (a refund gives negatives)."""

    bonus_paid_minor: int  # -(Kind 0): bonus spent as payment
    discount_applied_minor: int  # -(Kind 1): the discount the POS applied for the card
    bonus_accrued_minor: int  # Kind 2: what the POS accrued
    guest_spend_minor: int  # Kind 3: what the guest paid with own money


_SIGNS = {0: -1, 1: -1, 2: 1, 3: 1}


def check_money(
    transactions: Iterable[wire.Transaction], unit: MoneyUnit, card: int | None = None
) -> CheckMoney:
    """The sums of one request (of one card's transactions only, when `card` is given)."""
    totals = dict.fromkeys(_SIGNS, 0)
    for transaction in transactions:
        if card is None or transaction.Card == card:
            totals[transaction.Kind] += summa_to_minor(transaction.Summa, unit)
    signed = {kind: _SIGNS[kind] * total for kind, total in totals.items()}
    return CheckMoney(
        bonus_paid_minor=signed[0],
        discount_applied_minor=signed[1],
        bonus_accrued_minor=signed[2],
        guest_spend_minor=signed[3],
    )


# --- lines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    """A check line as the hub's receipt takes it (hub.flow ItemIn), plus what the POS charged for it."""

    name: str
    category: str | None
    quantity: Decimal
    unit_price_minor: int  # the price-list price, before the POS's discounts
    sku: str | None
    charged_minor: int | None  # the line's sum after the POS's discounts and markups


def _unit_price(line: wire.Line, quantity: Decimal) -> Decimal | None:
    """`price`; without it, the price-list sum (or the sum) over the quantity."""
    if line.price is not None:
        return line.price
    total = line.pr_list_sum if line.pr_list_sum is not None else line.sum
    return total / quantity if total is not None else None


def _text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] if value else None


def receipt_line(line: wire.Line) -> ReceiptLine | None:
    """The receipt line of a LINE, or None for one that carries no sale: no or non-positive quantity,
    no price at all, a negative price, or a modifier that costs nothing."""
    quantity = line.quantity
    if quantity is None or quantity <= 0:
        return None
    price = _unit_price(line, quantity)
    if price is None or price < 0 or (price == 0 and (line.type or "").lower() == "modify"):
        return None
    name = _text(line.name, NAME_LIMIT) or _text(line.code, NAME_LIMIT) or "?"
    return ReceiptLine(
        name=name,
        category=_text(line.categ_id, CATEGORY_LIMIT),
        quantity=quantity,
        unit_price_minor=roubles_to_minor(price),
        sku=_text(line.code, SKU_LIMIT),
        charged_minor=roubles_to_minor(line.sum) if line.sum is not None else None,
    )


def receipt_lines(check: wire.Check | None) -> tuple[ReceiptLine, ...]:
    """The sale lines of a check, in the check's order (none without CHECKDATA)."""
    if check is None or check.checkdata is None:
        return ()
    lines = (receipt_line(line) for line in check.checkdata.checklines)
    return tuple(line for line in lines if line is not None)
