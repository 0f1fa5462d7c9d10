"""A FarCards / ExtDllHTTP client for the tests: it plays r_keeper's side of the card interface.

Written from the protocol facts in shared/POS-PROTOCOLS.md §1, not from connectors.rkeeper, so that
the hub's parser and answers are checked against an independent reading:
- requests are raw UTF-8 XML POSTed to `{Address}/{handler}`: GetCardInfoEx
  `<ROOT><QRY Card Restaurant UnitNo><INPBUF><CHECK …/></INPBUF></QRY></ROOT>`, TransactionsEx
  `<ROOT><Transactions><TransactionsEx …/>…</Transactions><INPBUF><CHECK …/></INPBUF></ROOT>`, FindEmail
  `<ROOT><QRY Email/></ROOT>` (docs.rkeeper.ru "Описание HTTP протокола для FarCards"; RKVitaly/
  farcardsHTTP; the ISG and AndryPol receivers);
- the CHECK is shaped like the buffers r_keeper builds (AndryPol/FarcardsNet's test buffer and
  `Data/BufferData` models): lower-case attributes, money in decimal roubles, GUIDs in braces;
- transactions follow the DLL record (Extdll6): Summa in the integration's unit (kopecks by default),
  Kind 0 bonus payment negative, 1 discount negative, 2 accrual positive, 3 guest spend positive; a
  refund repeats them with opposite signs under chmode 3;
- an answer is read the way the DLL must read it: the `Root` element, one method element named as the
  call, a `Result` of 0 or 1, CardInfo numbers that fit the DLL's fields and strings that fit its
  buffers (Holder 39 characters, the other texts 255).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET  # builds our own requests; answers are read with defusedxml
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import aiohttp
import defusedxml.ElementTree as DefusedET

Method = Literal["GetCardInfoEx", "TransactionsEx", "FindEmail"]
REQUEST_CONTENT_TYPE = "application/xml; charset=utf-8"  # what a public FarCards-HTTP load test sends
ANSWER_CONTENT_TYPES = ("text/xml", "application/xml")
SERIAL_EPOCH = dt.date(1899, 12, 30)  # the DLL's cash date 0

KIND_PAYMENT, KIND_DISCOUNT, KIND_BONUS, KIND_SPEND = 0, 1, 2, 3
CHMODE_PAYMENT, CHMODE_RETURN = 1, 3
CHMODE_EDITING, CHMODE_PAYMENT_SCREEN, CHMODE_BEFORE_TRANSACTIONS = 5, 7, 13

_INTEGER = re.compile(r"-?[0-9]{1,19}")
_FLAGS = ("Deleted", "Seize", "StopDate", "Holy", "Manager", "Locked")
_TEXTS = {"WhyLock": 255, "Holder": 39, "DopInfo": 255, "ScrMessage": 255, "PrnMessage": 255}
_NUMBERS = {
    "PersonID": (-(2**63), 2**63 - 1),
    "Account": (0, 2**32 - 1),
    "Unpay": (0, 2**32 - 1),
    "Bonus": (0, 2**16 - 1),
    "Discount": (0, 2**16 - 1),
    "DiscLimit": (-(2**63), 2**63 - 1),
    "Summa": (-(2**63), 2**63 - 1),
    **{f"Sum{n}": (-(2**63), 2**63 - 1) for n in range(2, 9)},
}


class AnswerError(AssertionError):
    """The hub's answer is not one ExtDllHTTP could turn into the DLL's result."""


# --- what goes into a check -------------------------------------------------------------------


@dataclass(frozen=True)
class Dish:
    """A LINE: price is the price-list price in roubles; discount lowers the line's sum."""

    name: str
    price: Decimal
    quantity: Decimal = Decimal(1)
    code: str = "1"
    categ_id: str = ""
    type: str = "dish"
    discount: Decimal = Decimal(0)

    @property
    def list_sum(self) -> Decimal:
        return self.price * self.quantity

    @property
    def sum(self) -> Decimal:
        return self.list_sum - self.discount


@dataclass(frozen=True)
class CheckDiscount:
    name: str
    code: str
    sum: Decimal
    cardcode: str = ""


@dataclass(frozen=True)
class CheckPayment:
    name: str
    code: str
    sum: Decimal
    paytype: int = 1  # 1 cash, 2 bank card, 3 other
    cardcode: str = ""


@dataclass(frozen=True)
class Check:
    """One r_keeper check as INPBUF carries it; `with_mode` gives the same check under another chmode."""

    lines: tuple[Dish, ...]
    chmode: int = CHMODE_EDITING
    checkguid: str = "{32FA0A30-877B-4DCE-A80C-D29064F1ED8D}"
    orderguid: str = "{398624F7-CA8C-4AB8-8940-7D116BAE73E1}"
    ordernum: str = "1001/1"
    checknum: str = "0"
    tablename: str = "12"
    guests: int = 2
    restaurantcode: str = "199999999"
    stationcode: str = "2"
    cashservername: str = "SERV01"
    generated_at: dt.datetime = dt.datetime(2024, 3, 8, 19, 40, 12)  # noqa: DTZ001  # the cash server's local time
    shiftdate: dt.date = dt.date(2024, 3, 8)
    shiftnum: int = 41
    started_at: dt.datetime = dt.datetime(2024, 3, 8, 18, 5, 0)  # noqa: DTZ001  # local, as r_keeper sends it
    closed_at: dt.datetime | None = None
    waiter: str = "Официантка Мария"
    discounts: tuple[CheckDiscount, ...] = ()
    payments: tuple[CheckPayment, ...] = ()

    def with_mode(self, chmode: int, **changes: object) -> Check:
        return dataclasses.replace(self, chmode=chmode, **changes)  # type: ignore[arg-type]  # fields by name

    @property
    def total(self) -> Decimal:
        return sum((line.sum for line in self.lines), Decimal(0)) - sum(
            (discount.sum for discount in self.discounts), Decimal(0)
        )


@dataclass(frozen=True)
class Tx:
    """One TransactionsEx record; Summa in the integration's money unit, signed as the DLL signs it."""

    card: int
    kind: int
    summa: int
    person_id: int | None = 1010
    account: int | None = None
    restaurant: int = 9999
    rk_date: dt.date = dt.date(2024, 3, 8)
    rk_unit: int = 2
    rk_check: int = 4217
    vat: tuple[tuple[str, int, int], ...] = ()  # (letter, sum with the tax, rate x 100)
    date_form: Literal["serial", "iso"] = "serial"
    unit_attribute: Literal["RKUnit", "RKUni"] = "RKUnit"


def realistic_check(**changes: object) -> Check:
    """A Georgian dinner for two: several lines with kopecks, a card discount, cash and card payments."""
    lines = (
        Dish("Борщ", Decimal("450.50"), Decimal(2), code="101", categ_id="Супы"),
        Dish("Хинкали бараньи", Decimal("89.90"), Decimal(5), code="214", categ_id="Горячее"),
        Dish("Хачапури по-аджарски", Decimal("520.00"), code="230", categ_id="Выпечка"),
        Dish("Сыр сулугуни, 0,150 кг", Decimal("1180.00"), Decimal("0.150"), code="305", categ_id="Закуски"),
        Dish("Вино «Саперави», бокал", Decimal("390.00"), Decimal(2), code="512", categ_id="Алкоголь"),
        Dish("Без лука", Decimal(0), code="9001", type="modify"),
    )
    check = Check(lines=lines, closed_at=dt.datetime(2024, 3, 8, 20, 15, 31))  # noqa: DTZ001  # local time
    discount = CheckDiscount("Коалиция PRIME -10% (кроме алкоголя)", "7", Decimal("204.75"), cardcode="8002")
    total = check.total - discount.sum
    payments = (
        CheckPayment("Рубли", "1", Decimal("1000.00")),
        CheckPayment("VISA", "4", total - Decimal("1000.00"), paytype=2),
    )
    return dataclasses.replace(check, discounts=(discount,), payments=payments, **changes)  # type: ignore[arg-type]


def refund_of(transactions: Sequence[Tx]) -> tuple[Tx, ...]:
    """The same transactions with opposite signs, as r_keeper sends a check's return."""
    return tuple(dataclasses.replace(tx, summa=-tx.summa) for tx in transactions)


# --- XML --------------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _quantity(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


def _extinfo(check_element: ET.Element, card: int) -> None:
    interfaces = _sub(_sub(check_element, "EXTINFO", reservation=""), "INTERFACES", current="1")
    interface = _sub(interfaces, "INTERFACE", cardcode=str(card), type="PDS", id="1", mode="0", interface="1")
    _sub(_sub(interface, "HOLDERS"), "ITEM", cardcode=str(card))
    _sub(interface, "ALLCARDS")


def _lines(data: ET.Element, check: Check) -> None:
    holder = _sub(data, "CHECKLINES", count=str(len(check.lines)))
    for uni, dish in enumerate(check.lines, start=1):
        line = _sub(
            holder,
            "LINE",
            id=f"{{00000000-0000-4000-8000-{uni:012d}}}",
            code=dish.code,
            name=dish.name,
            uni=str(uni),
            type=dish.type,
            price=_money(dish.price),
            pr_list_sum=_money(dish.list_sum),
            categ_id=dish.categ_id,
            servprint_id="",
            quantity=_quantity(dish.quantity),
            sum=_money(dish.sum),
        )
        taxes = _sub(line, "LINETAXES", count="1")
        _sub(taxes, "TAX", id="{34694A49-F862-4D07-9ACD-5EECF76E1B6E}", sum=_money(dish.sum / 6))


def _categs(data: ET.Element, check: Check) -> None:
    sums: dict[str, Decimal] = {}
    for dish in check.lines:
        sums[dish.categ_id] = sums.get(dish.categ_id, Decimal(0)) + dish.sum
    holder = _sub(data, "CHECKCATEGS", count=str(len(sums)))
    for number, (name, total) in enumerate(sums.items(), start=1):
        _sub(holder, "CATEG", id=str(number), code=str(number), name=name, sum=_money(total), discsum="0.00")


def _discounts(data: ET.Element, check: Check) -> None:
    holder = _sub(data, "CHECKDISCOUNTS", count=str(len(check.discounts)))
    for uni, discount in enumerate(check.discounts, start=100):
        _sub(
            holder,
            "DISCOUNT",
            id=f"{{D15C0000-0000-4000-8000-{uni:012d}}}",
            code=discount.code,
            name=discount.name,
            uni=str(uni),
            interface="1",
            cardcode=discount.cardcode,
            sum=_money(discount.sum),
        )


def _payments(data: ET.Element, check: Check) -> None:
    holder = _sub(data, "CHECKPAYMENTS", count=str(len(check.payments)))
    for uni, payment in enumerate(check.payments, start=200):
        _sub(
            holder,
            "PAYMENT",
            id=f"{{9A700000-0000-4000-8000-{uni:012d}}}",
            code=payment.code,
            name=payment.name,
            uni=str(uni),
            paytype=str(payment.paytype),
            bsum=_money(payment.sum),
            sum=_money(payment.sum),
            interface="0",
            cardcode=payment.cardcode,
        )


def _check_data(check_element: ET.Element, check: Check) -> None:
    data = _sub(
        check_element,
        "CHECKDATA",
        checknum=check.checknum,
        printnum="0",
        tablename=check.tablename,
        startservice=check.started_at.isoformat(timespec="seconds"),
        ordernum=check.ordernum,
        guests=str(check.guests),
        orderguid=check.orderguid,
        checkguid=check.checkguid,
        order_cat="1",
        order_type="9001",
        persistentcomment="",
    )
    if check.closed_at is not None:
        data.set("closedatetime", check.closed_at.isoformat(timespec="seconds"))
    persons = _sub(data, "CHECKPERSONS", count="1")
    _sub(
        persons, "PERSON", id="{D388DF80-FAFA-44EA-9D2C-348879E82F27}", name=check.waiter, code="7", role="7"
    )
    _lines(data, check)
    _categs(data, check)
    _discounts(data, check)
    _payments(data, check)
    taxes = _sub(data, "CHECKTAXES", count="1")
    _sub(
        taxes, "TAX", id="{34694A49-F862-4D07-9ACD-5EECF76E1B6E}", code="1", rate="20", sum="0.00", name="НДС"
    )


def check_element(check: Check, card: int) -> ET.Element:
    """The CHECK element of INPBUF."""
    element = ET.Element(
        "CHECK",
        {
            "stationcode": check.stationcode,
            "restaurantcode": check.restaurantcode,
            "cashservername": check.cashservername,
            "generateddatetime": check.generated_at.isoformat(timespec="seconds"),
            "chmode": str(check.chmode),
            "locale": "1049",
            "shiftdate": check.shiftdate.isoformat(),
            "shiftnum": str(check.shiftnum),
        },
    )
    _extinfo(element, card)
    _check_data(element, check)
    return element


def _document(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def get_card_info_ex_xml(
    card: int, check: Check | None = None, *, restaurant: int = 9999, unit: int = 2
) -> bytes:
    """A GetCardInfoEx call; without a check, the bare QRY a technical call sends."""
    root = ET.Element("ROOT")
    query = _sub(root, "QRY", Card=str(card), Restaurant=str(restaurant), UnitNo=str(unit))
    if check is not None:
        _sub(query, "INPBUF").append(check_element(check, card))
    return _document(root)


def _transaction_attributes(tx: Tx) -> dict[str, str]:
    rk_date = str((tx.rk_date - SERIAL_EPOCH).days) if tx.date_form == "serial" else tx.rk_date.isoformat()
    attributes = {"Card": str(tx.card)}
    if tx.person_id is not None:
        attributes["PersonID"] = str(tx.person_id)
    attributes.update(
        {
            "Account": str(tx.account if tx.account is not None else tx.card),
            "Kind": str(tx.kind),
            "Summa": str(tx.summa),
            "Restaurant": str(tx.restaurant),
            "RKDate": rk_date,
            tx.unit_attribute: str(tx.rk_unit),
            "RKCheck": str(tx.rk_check),
        }
    )
    for letter, vat_sum, vat_rate in tx.vat:
        attributes[f"VatSum{letter}"], attributes[f"VatPrc{letter}"] = str(vat_sum), str(vat_rate)
    return attributes


def transactions_ex_xml(transactions: Sequence[Tx], check: Check | None) -> bytes:
    """A TransactionsEx call: the records, then the check they belong to."""
    root = ET.Element("ROOT")
    holder = _sub(root, "Transactions")
    for tx in transactions:
        _sub(holder, "TransactionsEx", **_transaction_attributes(tx))
    if check is not None:
        _sub(root, "INPBUF").append(check_element(check, transactions[0].card))
    return _document(root)


def find_email_xml(email: str) -> bytes:
    root = ET.Element("ROOT")
    _sub(root, "QRY", Email=email)
    return _document(root)


# --- a check's life at the till ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: Method
    chmode: int
    body: bytes


def paid_transactions(card: int, *, discount: int, bonus_paid: int, guest_spend: int) -> tuple[Tx, ...]:
    """The records of a paid check, amounts positive in, signed as the DLL signs them out."""
    found = [Tx(card, KIND_DISCOUNT, -discount), Tx(card, KIND_SPEND, guest_spend)]
    if bonus_paid:
        found.insert(0, Tx(card, KIND_PAYMENT, -bonus_paid))
    return tuple(found)


def chmode_sequence(card: int, check: Check, transactions: Sequence[Tx]) -> list[Call]:
    """What r_keeper sends for one check: looks at 5 (editing), 7 (payment screen), 13 (before
    transactions), the TransactionsEx of the payment (chmode 1), and its return (chmode 3, opposite signs)."""
    looks = [
        Call("GetCardInfoEx", mode, get_card_info_ex_xml(card, check.with_mode(mode)))
        for mode in (CHMODE_EDITING, CHMODE_PAYMENT_SCREEN, CHMODE_BEFORE_TRANSACTIONS)
    ]
    paid = check.with_mode(CHMODE_PAYMENT, checknum="4217")
    returned = check.with_mode(CHMODE_RETURN, checknum="4217")
    return [
        *looks,
        Call("TransactionsEx", CHMODE_PAYMENT, transactions_ex_xml(transactions, paid)),
        Call("TransactionsEx", CHMODE_RETURN, transactions_ex_xml(refund_of(transactions), returned)),
    ]


# --- answers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrResponseSeen:
    attributes: dict[str, str]
    transactions: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Answer:
    method: Method
    result: int
    attributes: dict[str, str]  # the method element's, Result included
    trresponse: TrResponseSeen | None = None
    body: bytes = field(default=b"", repr=False)

    @property
    def is_ok(self) -> bool:
        return self.result == 0


def method_of(body: bytes) -> Method:
    """Which call a request body is (the DLL knows it; the test reads it back from the body)."""
    root = DefusedET.fromstring(body.decode("utf-8"), forbid_dtd=True)
    if root.find("Transactions") is not None:
        return "TransactionsEx"
    query = root.find("QRY")
    return "FindEmail" if query is not None and "Email" in query.attrib else "GetCardInfoEx"


def _trresponse(element: ET.Element) -> TrResponseSeen | None:
    found = element.find("OutBuf/TRRESPONSE")
    if found is None:
        return None
    transactions = tuple(dict(item.attrib) for item in found.findall("TRANSACTION"))
    return TrResponseSeen(attributes=dict(found.attrib), transactions=transactions)


def read_answer(method: Method, body: bytes) -> Answer:
    """The answer read strictly: `Root`, one element named as the call, Result 0 or 1."""
    try:
        root = DefusedET.fromstring(body.decode("utf-8"), forbid_dtd=True)
    except (ValueError, ET.ParseError) as exc:
        raise AnswerError(f"the answer is not UTF-8 XML: {exc}") from None
    if root.tag != "Root" or len(root) != 1 or root[0].tag != method:
        raise AnswerError(f"expected <Root><{method}/></Root>, got {body[:200]!r}")
    element = root[0]
    result = element.get("Result")
    if result not in ("0", "1"):
        raise AnswerError(f"{method} Result is {result!r}")
    if method == "GetCardInfoEx" and result == "0":
        check_card_info(element.attrib)
    return Answer(method, int(result), dict(element.attrib), _trresponse(element), body)


def check_card_info(attributes: dict[str, str]) -> None:
    """Raise unless CardInfo fits the DLL's record: flags 0/1, integers in range, texts within buffers."""
    for flag in _FLAGS:
        if attributes.get(flag, "0") not in ("0", "1"):
            raise AnswerError(f"{flag} is not 0 or 1")
    for name, (low, high) in _NUMBERS.items():
        value = attributes.get(name)
        if value is not None and not (_INTEGER.fullmatch(value) and low <= int(value) <= high):
            raise AnswerError(f"{name}={value!r} does not fit the DLL's field")
    for name, limit in _TEXTS.items():
        if len(attributes.get(name, "").encode("utf-16-le")) // 2 > limit:
            raise AnswerError(f"{name} is longer than {limit} characters")


async def post(
    session: aiohttp.ClientSession, url: str, xml: bytes, *, content_type: str = REQUEST_CONTENT_TYPE
) -> Answer:
    """POST one call as ExtDllHTTP does and read the answer as it must: 200, XML, the call's element."""
    method = method_of(xml)
    async with session.post(url, data=xml, headers={"Content-Type": content_type}) as response:
        body = await response.read()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status != 200:
            raise AnswerError(f"HTTP {response.status} from {url}: {body[:200]!r}")
    if media_type not in ANSWER_CONTENT_TYPES:
        raise AnswerError(f"the answer is {media_type!r}, not XML")
    return read_answer(method, body)
