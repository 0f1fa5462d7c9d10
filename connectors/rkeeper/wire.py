"""r_keeper 7 FarCards over HTTP (UCS's ExtDllHTTP.dll): the requests the hub reads and the answers it writes.

The hub is the "processing server": FarCards calls the DLL, the DLL POSTs one XML document per call to
`{Address}/{handler}` and turns the XML answer back into the DLL's result and structures. Facts relied
on ([V] vendor text, [R] a public implementation, [I] not found anywhere, so tolerated both ways):

- UTF-8 only; getcardinfoex and transactionsex mandatory, the rest optional; FarCards 6.04+ [V:
  docs.rkeeper.ru "Описание HTTP протокола для FarCards"]. The body is raw XML, not a form [R:
  RKVitaly/farcardsHTTP reads the raw POST body].
- GetCardInfoEx: `<ROOT><QRY Card Restaurant UnitNo><INPBUF><CHECK …/></INPBUF></QRY></ROOT>` [V, the
  docs' example]; INPBUF may be absent [R: a load test posts a bare QRY]. Card is an Int64, Restaurant
  and UnitNo DWORDs [V: FarCards Extdll6 description, as copied in AndryPol/FarcardsNet
  `FarcardContract/Docs/Extdll6.txt`].
- TransactionsEx: `<ROOT><Transactions><TransactionsEx …/>…</Transactions><INPBUF><CHECK…/></INPBUF>
  </ROOT>` [R: two independent receivers, an ISG C# model and AndryPol `TransactionExDTO`]. Attributes
  are the DLL's 122-byte transaction record [V: Extdll6]: Card Int64, PersonID Int64, Account DWORD,
  Kind Byte (0 payment, 1 discount, 2 bonus, 3 guest spend), Summa Int64 (kopecks in the DLL), Restaurant
  Word, cash date DWORD (days since 1899-12-30), cash number Byte, check number DWORD, then eight pairs of
  sum with tax (Int64) and tax rate (Word, percent x 100). The cash number is `RKUnit` in one receiver
  and `RKUni` in the other, the date's text form is undocumented [R]: both names and both forms (ISO
  or day serial) are read.
- FindEmail: `<ROOT><QRY Email="…"/></ROOT>` → `<FindEmail Account CardCode Name Result="0"/>` or
  `ErrorText` with `Result="1"` [R: RKVitaly `findemail.php`].
- INPBUF's CHECK [R: AndryPol `Data/BufferData/*.cs`, whose comments follow the UCS page on preparing
  the XML for GetCardInfo/Transaction; the ISG model; AndryPol's test buffer]: attribute names are lower
  case (`chmode`, `restaurantcode`, …), CHECKDATA holds CHECKPERSONS/PERSON, CHECKLINES/LINE,
  CHECKCATEGS/CATEG, CHECKDISCOUNTS/DISCOUNT, CHECKPAYMENTS/PAYMENT; money there is decimal roubles
  (`sum="0.15"`), unlike the DLL records' kopecks. AndryPol spells the guest count `quests`; the test
  buffer and the ISG model `guests`: both are read.
- Answers: `<Root><GetCardInfoEx … Result="0"/></Root>`, the attributes being the DLL's 1164-byte
  CardInfo record (Holder 40-byte ASCIIZ, WhyLock/DopInfo/ScrMessage/PrnMessage 256 bytes, DiscLimit,
  Summa and Sum2..Sum8 Int64 kopecks, Bonus and Discount Word *codes* of r_keeper's dictionaries, not
  amounts) [V: Extdll6; R: RKVitaly `getcardinfoex.php`]; unknown card `Result="1"` [R];
  `<Root><TransactionsEx Result="0"/></Root>`, all or nothing [V: Extdll6; R: RKVitaly].
- TRRESPONSE [V: the UCS protocol note copied as AndryPol `Docs/TRRESPONCE.txt`]: error_code (absent or
  0 = no error), err_text (with no error it is a warning for the cashier), dts, placeid, TRANSACTION
  children (cardcode required; num 1-based or 0 = add, or uni + linetag; ext_id; value in kopecks …).
  Since protocol 30 (FarCards 6.04) an error text is returned *with* the failing result. How ExtDllHTTP
  carries the DLL's OutBuf inside its HTTP answer is not in any retrieved text [I]; `out_buf` holds the
  one assumption (AndryPol's tunnel nests `<OutBuf OutKind="1">` in the method element).

Reading is strict where a wrong value would be acted on and forgiving where r_keeper versions differ:
element and attribute names match case-insensitively, unknown ones are ignored, a missing or empty
optional attribute is None, dates that cannot be read are None. Bodies over 256 KiB, text that is not
UTF-8, malformed XML, a DOCTYPE or an entity, a missing Card, a badly spelled number: one
FarCardsRequestError, and nothing else escapes.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # only for the Element type and ParseError; parsing is defusedxml's
from collections.abc import Callable
from decimal import Decimal
from typing import Literal, TypeVar

import defusedxml
import defusedxml.ElementTree as DefusedET
import msgspec

from connectors.rkeeper.errors import FarCardsRequestError
from connectors.rkeeper.xmltext import attribute_value, truncated

MAX_BODY_BYTES = 256 * 1024
CONTENT_TYPE = "text/xml; charset=utf-8"
HOLDER_LIMIT = 39  # 40-byte ASCIIZ buffer
TEXT_LIMIT = 255  # 256-byte ASCIIZ buffers
OUT_KIND_XML = 1  # TRRESPONCE note: "OutKind - тип ответной информации (1-XML)"

Method = Literal["GetCardInfoEx", "TransactionsEx", "FindEmail"]

INT64 = (-(2**63), 2**63 - 1)
CARD = (0, 2**63 - 1)
DWORD = (0, 2**32 - 1)
WORD = (0, 2**16 - 1)
BYTE = (0, 2**8 - 1)
KINDS = (0, 3)
VAT_LETTERS = "ABCDEFGH"
_SERIAL_EPOCH = dt.date(1899, 12, 30)  # the DLL's cash date 0
_LAST_SERIAL = (dt.date.max - _SERIAL_EPOCH).days


class Wire(msgspec.Struct, frozen=True, kw_only=True):
    """A FarCards shape, fields spelled as the vendor spells them."""


# --- INPBUF: the check ------------------------------------------------------------------------


class Person(Wire, frozen=True):
    id: str | None = None
    name: str | None = None
    code: str | None = None
    role: str | None = None


class Line(Wire, frozen=True):
    id: str | None = None
    code: str | None = None
    name: str | None = None
    uni: str | None = None
    type: str | None = None  # dish, combo, modify, ticket, undefined
    price: Decimal | None = None  # roubles, price-list price before discounts and markups
    pr_list_sum: Decimal | None = None
    categ_id: str | None = None
    categ: str | None = None
    servprint_id: str | None = None
    quantity: Decimal | None = None
    sum: Decimal | None = None  # roubles, after discounts and markups
    parent: str | None = None


class Categ(Wire, frozen=True):
    id: str | None = None
    code: str | None = None
    name: str | None = None
    sum: Decimal | None = None
    discsum: Decimal | None = None


class Discount(Wire, frozen=True):
    id: str | None = None
    code: str | None = None
    name: str | None = None
    uni: str | None = None
    interface: str | None = None
    cardcode: str | None = None
    account: str | None = None
    sum: Decimal | None = None
    objectuni: str | None = None


class Payment(Wire, frozen=True):
    id: str | None = None
    code: str | None = None
    name: str | None = None
    uni: str | None = None
    paytype: int | None = None  # 1 cash, 2 bank card, 3 other
    bsum: Decimal | None = None  # in the base currency
    sum: Decimal | None = None  # in the payment's currency
    interface: str | None = None
    cardcode: str | None = None
    ownerinfo: str | None = None
    exttransactioninfo: str | None = None


class CheckData(Wire, frozen=True):
    checknum: str | None = None
    printnum: str | None = None
    ordernum: str | None = None
    orderguid: str | None = None
    checkguid: str | None = None
    guests: int | None = None
    tablename: str | None = None
    startservice: dt.datetime | None = None  # the cash server's local time, naive
    closedatetime: dt.datetime | None = None
    order_cat: str | None = None
    order_type: str | None = None
    checkpersons: tuple[Person, ...] = ()
    checklines: tuple[Line, ...] = ()
    checkcategs: tuple[Categ, ...] = ()
    checkdiscounts: tuple[Discount, ...] = ()
    checkpayments: tuple[Payment, ...] = ()


class Check(Wire, frozen=True):
    chmode: int | None = None  # why FarCards is called: see mapping.CheckMode
    restaurantcode: str | None = None
    stationcode: str | None = None
    cashservername: str | None = None
    generateddatetime: dt.datetime | None = None
    shiftdate: dt.date | None = None
    shiftnum: int | None = None
    locale: int | None = None
    protocolversion: str | None = None
    clientapp: str | None = None
    clientversion: str | None = None
    checkdata: CheckData | None = None


# --- requests ---------------------------------------------------------------------------------


class GetCardInfoExRequest(Wire, frozen=True):
    Card: int
    Restaurant: int | None = None
    UnitNo: int | None = None
    check: Check | None = None


class Vat(Wire, frozen=True):
    letter: str  # A..H
    VatSum: int | None = None  # sum with this tax, in the integration's money unit
    VatPrc: int | None = None  # rate, percent x 100


class Transaction(Wire, frozen=True):
    Card: int
    Kind: int  # 0 payment, 1 discount, 2 bonus accrual, 3 guest spend
    Summa: int  # signed, in the integration's money unit
    PersonID: int | None = None
    Account: int | None = None
    Restaurant: int | None = None
    RKDate: dt.date | None = None
    RKUnit: int | None = None  # sent as RKUnit or RKUni
    RKCheck: int | None = None
    vat: tuple[Vat, ...] = ()


class TransactionsExRequest(Wire, frozen=True):
    transactions: tuple[Transaction, ...]
    check: Check | None = None


class FindEmailRequest(Wire, frozen=True):
    Email: str


# --- answers ----------------------------------------------------------------------------------


class CardInfo(Wire, frozen=True):
    """The DLL's CardInfo record; amounts in the integration's money unit, Bonus/Discount are codes."""

    Deleted: bool = False
    Seize: bool = False
    StopDate: bool = False
    Holy: bool = False
    Manager: bool = False
    Locked: bool = False
    WhyLock: str = ""
    Holder: str = ""
    PersonID: int | None = None
    Account: int | None = None
    Unpay: int | None = None
    Bonus: int | None = None
    Discount: int | None = None
    DiscLimit: int | None = None
    Summa: int | None = None
    Sum2: int | None = None
    Sum3: int | None = None
    Sum4: int | None = None
    Sum5: int | None = None
    Sum6: int | None = None
    Sum7: int | None = None
    Sum8: int | None = None
    DopInfo: str = ""
    ScrMessage: str = ""
    PrnMessage: str = ""


class TrTransaction(Wire, frozen=True):
    cardcode: str
    num: int | None = None  # 1-based index in the request, 0 = add a new one
    uni: int | None = None
    linetag: Literal["LINE", "PAYMENT", "DISCOUNT"] | None = None
    ext_id: str | None = None  # the hub's id, kept by r_keeper for reconciliation
    dts: dt.datetime | None = None
    slip: str | None = None
    subaccount: int | None = None
    value: int | None = None
    extinfo: str | None = None


class TrResponse(Wire, frozen=True):
    error_code: int = 0
    err_text: str | None = None
    dts: dt.datetime | None = None
    placeid: str | None = None
    transactions: tuple[TrTransaction, ...] = ()


class EmailMatch(Wire, frozen=True):
    Account: int
    CardCode: int
    Name: str = ""


# --- reading ----------------------------------------------------------------------------------

_INTEGER = re.compile(r"-?[0-9]{1,20}")  # as the DLL writes an integer: no plus, no spaces inside
_DECIMAL = re.compile(r"([+-]?)([0-9]{0,20})(?:[.,]([0-9]{0,12}))?")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2})[:-]([0-9]{2})(?:[:-]([0-9]{2})(?:\.[0-9]{1,7})?)?)?"
)
_RUSSIAN_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_INNER_DECLARATION = re.compile(r"(<inpbuf\b[^>]*>)\s*<\?xml[^>]*\?>", re.IGNORECASE)

T = TypeVar("T")


class _Attributes:
    """An element's attributes by lower-cased name, read as the protocol's types."""

    def __init__(self, element: ET.Element, where: str) -> None:
        self._where = where
        self._values: dict[str, str] = {}
        for name, value in element.attrib.items():
            key = name.lower()
            if key in self._values:
                raise FarCardsRequestError(f"{where} has the attribute {key[:40]} twice")
            self._values[key] = value

    def text(self, name: str) -> str | None:
        value = self._values.get(name.lower())
        return value if value else None

    def integer(self, name: str, bounds: tuple[int, int]) -> int | None:
        value = self._stripped(name)
        if value is None:
            return None
        if not _INTEGER.fullmatch(value):
            raise FarCardsRequestError(f"{self._where} {name} is not an integer")
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
            raise FarCardsRequestError(f"{self._where} {name} is out of range")
        return number

    def required_integer(self, name: str, bounds: tuple[int, int]) -> int:
        number = self.integer(name, bounds)
        if number is None:
            raise FarCardsRequestError(f"{self._where} has no {name}")
        return number

    def decimal(self, name: str) -> Decimal | None:
        value = self._stripped(name)
        if value is None:
            return None
        match = _DECIMAL.fullmatch(value)
        if match is None or not (match.group(2) or match.group(3)):
            raise FarCardsRequestError(f"{self._where} {name} is not a decimal number")
        sign, whole, fraction = match.groups()
        return Decimal(f"{sign}{whole or '0'}" + (f".{fraction}" if fraction else ""))

    def datetime(self, name: str) -> dt.datetime | None:
        value = self._stripped(name)
        return None if value is None else _datetime(value)

    def date(self, name: str) -> dt.date | None:
        value = self._stripped(name)
        return None if value is None else _date(value)

    def _stripped(self, name: str) -> str | None:
        value = self._values.get(name.lower())
        value = value.strip() if value is not None else None
        return value if value else None


def _datetime(value: str) -> dt.datetime | None:
    """ISO date-time, with AndryPol's `HH-mm-ss` as well; None for anything else."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (part or "00" for part in match.groups())
    try:
        return dt.datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}")
    except ValueError:
        return None


def _date(value: str) -> dt.date | None:
    """ISO date (a time after it is ignored) or dd.mm.yyyy; None for anything else."""
    russian = _RUSSIAN_DATE.fullmatch(value)
    if russian is not None:
        day, month, year = russian.groups()
        value = f"{year}-{month}-{day}"
    moment = _datetime(value)
    return moment.date() if moment is not None else None


def _cash_date(value: str | None) -> dt.date | None:
    """RKDate: a day serial (0 = 1899-12-30) or a date; None when it cannot be read."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        days = int(value) if len(value) <= 7 else _LAST_SERIAL + 1
        return _SERIAL_EPOCH + dt.timedelta(days=days) if days <= _LAST_SERIAL else None
    return _date(value)


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if isinstance(child.tag, str) and child.tag.lower() == name]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _document(body: bytes) -> ET.Element:
    """The root element of a request body, refused before parsing when it is too large or not UTF-8."""
    if len(body) > MAX_BODY_BYTES:
        raise FarCardsRequestError("the request is larger than 256 KiB")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FarCardsRequestError("the request is not UTF-8") from None
    return _parsed(_INNER_DECLARATION.sub(r"\1", text))


def _parsed(text: str) -> ET.Element:
    """defusedxml with no DTD, no entities, no external references: every failure is a request error."""
    try:
        root: ET.Element = DefusedET.fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise FarCardsRequestError("a DOCTYPE is not allowed") from None
    except defusedxml.EntitiesForbidden:
        raise FarCardsRequestError("entities are not allowed") from None
    except defusedxml.DefusedXmlException:
        raise FarCardsRequestError("external references are not allowed") from None
    except (ET.ParseError, ValueError):  # expat's own errors are ParseError; ValueError in case of the rest
        raise FarCardsRequestError("the request is not well-formed XML") from None
    return root


def _root(body: bytes) -> ET.Element:
    root = _document(body)
    if not isinstance(root.tag, str) or root.tag.lower() != "root":
        raise FarCardsRequestError("the root element is not ROOT")
    return root


def _required(element: ET.Element, name: str, where: str) -> ET.Element:
    found = _child(element, name.lower())
    if found is None:
        raise FarCardsRequestError(f"{where} has no {name}")
    return found


# --- the check --------------------------------------------------------------------------------


def _items(parent: ET.Element, group: str, item: str, read: Callable[[ET.Element], T]) -> tuple[T, ...]:
    return tuple(read(element) for holder in _children(parent, group) for element in _children(holder, item))


def _person(element: ET.Element) -> Person:
    a = _Attributes(element, "PERSON")
    return Person(id=a.text("id"), name=a.text("name"), code=a.text("code"), role=a.text("role"))


def _line(element: ET.Element) -> Line:
    a = _Attributes(element, "LINE")
    return Line(
        id=a.text("id"),
        code=a.text("code"),
        name=a.text("name"),
        uni=a.text("uni"),
        type=a.text("type"),
        price=a.decimal("price"),
        pr_list_sum=a.decimal("pr_list_sum"),
        categ_id=a.text("categ_id"),
        categ=a.text("categ"),
        servprint_id=a.text("servprint_id"),
        quantity=a.decimal("quantity"),
        sum=a.decimal("sum"),
        parent=a.text("parent"),
    )


def _categ(element: ET.Element) -> Categ:
    a = _Attributes(element, "CATEG")
    return Categ(
        id=a.text("id"),
        code=a.text("code"),
        name=a.text("name"),
        sum=a.decimal("sum"),
        discsum=a.decimal("discsum"),
    )


def _discount(element: ET.Element) -> Discount:
    a = _Attributes(element, "DISCOUNT")
    return Discount(
        id=a.text("id"),
        code=a.text("code"),
        name=a.text("name"),
        uni=a.text("uni"),
        interface=a.text("interface"),
        cardcode=a.text("cardcode"),
        account=a.text("account"),
        sum=a.decimal("sum"),
        objectuni=a.text("objectuni"),
    )


def _payment(element: ET.Element) -> Payment:
    a = _Attributes(element, "PAYMENT")
    return Payment(
        id=a.text("id"),
        code=a.text("code"),
        name=a.text("name"),
        uni=a.text("uni"),
        paytype=a.integer("paytype", BYTE),
        bsum=a.decimal("bsum"),
        sum=a.decimal("sum"),
        interface=a.text("interface"),
        cardcode=a.text("cardcode"),
        ownerinfo=a.text("ownerinfo"),
        exttransactioninfo=a.text("exttransactioninfo"),
    )


def _check_data(element: ET.Element) -> CheckData:
    a = _Attributes(element, "CHECKDATA")
    guests = a.integer("guests", DWORD)
    return CheckData(
        checknum=a.text("checknum"),
        printnum=a.text("printnum"),
        ordernum=a.text("ordernum"),
        orderguid=a.text("orderguid"),
        checkguid=a.text("checkguid"),
        guests=guests if guests is not None else a.integer("quests", DWORD),
        tablename=a.text("tablename"),
        startservice=a.datetime("startservice"),
        closedatetime=a.datetime("closedatetime"),
        order_cat=a.text("order_cat"),
        order_type=a.text("order_type"),
        checkpersons=_items(element, "checkpersons", "person", _person),
        checklines=_items(element, "checklines", "line", _line),
        checkcategs=_items(element, "checkcategs", "categ", _categ),
        checkdiscounts=_items(element, "checkdiscounts", "discount", _discount),
        checkpayments=_items(element, "checkpayments", "payment", _payment),
    )


def _check(element: ET.Element) -> Check:
    a = _Attributes(element, "CHECK")
    data = _child(element, "checkdata")
    return Check(
        chmode=a.integer("chmode", BYTE),
        restaurantcode=a.text("restaurantcode"),
        stationcode=a.text("stationcode"),
        cashservername=a.text("cashservername"),
        generateddatetime=a.datetime("generateddatetime"),
        shiftdate=a.date("shiftdate"),
        shiftnum=a.integer("shiftnum", DWORD),
        locale=a.integer("locale", DWORD),
        protocolversion=a.text("protocolversion"),
        clientapp=a.text("clientapp"),
        clientversion=a.text("clientversion"),
        checkdata=_check_data(data) if data is not None else None,
    )


def _inpbuf_check(*holders: ET.Element) -> Check | None:
    """The CHECK of the first INPBUF among the holders: a child element, or XML text inside INPBUF [I]."""
    for holder in holders:
        inpbuf = _child(holder, "inpbuf")
        if inpbuf is None:
            continue
        element = _child(inpbuf, "check")
        if element is None and inpbuf.text and inpbuf.text.lstrip().startswith("<"):
            element = _parsed(inpbuf.text.strip())
        if element is not None and isinstance(element.tag, str) and element.tag.lower() == "check":
            return _check(element)
        return None
    return None


# --- the three requests -----------------------------------------------------------------------


def parse_get_card_info_ex(body: bytes) -> GetCardInfoExRequest:
    """A GetCardInfoEx request; INPBUF is optional (looked for in QRY, then in ROOT)."""
    root = _root(body)
    query = _required(root, "QRY", "ROOT")
    a = _Attributes(query, "QRY")
    return GetCardInfoExRequest(
        Card=a.required_integer("Card", CARD),
        Restaurant=a.integer("Restaurant", DWORD),
        UnitNo=a.integer("UnitNo", DWORD),
        check=_inpbuf_check(query, root),
    )


def _vat(a: _Attributes) -> tuple[Vat, ...]:
    found = []
    for letter in VAT_LETTERS:
        vat_sum, vat_prc = a.integer(f"VatSum{letter}", INT64), a.integer(f"VatPrc{letter}", WORD)
        if vat_sum is not None or vat_prc is not None:
            found.append(Vat(letter=letter, VatSum=vat_sum, VatPrc=vat_prc))
    return tuple(found)


def _transaction(element: ET.Element) -> Transaction:
    a = _Attributes(element, "TransactionsEx")
    unit = a.integer("RKUnit", BYTE)
    return Transaction(
        Card=a.required_integer("Card", CARD),
        Kind=a.required_integer("Kind", KINDS),
        Summa=a.required_integer("Summa", INT64),
        PersonID=a.integer("PersonID", INT64),
        Account=a.integer("Account", DWORD),
        Restaurant=a.integer("Restaurant", DWORD),
        RKDate=_cash_date(a.text("RKDate")),
        RKUnit=unit if unit is not None else a.integer("RKUni", BYTE),
        RKCheck=a.integer("RKCheck", DWORD),
        vat=_vat(a),
    )


def parse_transactions_ex(body: bytes) -> TransactionsExRequest:
    """A TransactionsEx request: at least one transaction (in Transactions, or straight in ROOT)."""
    root = _root(body)
    holder = _child(root, "transactions")
    elements = _children(holder if holder is not None else root, "transactionsex")
    if not elements:
        raise FarCardsRequestError("the request has no TransactionsEx")
    holders = (root, holder) if holder is not None else (root,)
    return TransactionsExRequest(
        transactions=tuple(_transaction(element) for element in elements),
        check=_inpbuf_check(*holders),
    )


def parse_find_email(body: bytes) -> FindEmailRequest:
    """A FindEmail request: the address as sent, without surrounding spaces."""
    query = _required(_root(body), "QRY", "ROOT")
    email = (_Attributes(query, "QRY").text("Email") or "").strip()
    if not email:
        raise FarCardsRequestError("QRY has no Email")
    if len(email) > 320:
        raise FarCardsRequestError("QRY Email is too long")
    return FindEmailRequest(Email=email)


# --- writing ----------------------------------------------------------------------------------

_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _element(name: str, attributes: list[tuple[str, str]], inner: str = "") -> str:
    spelled = "".join(f' {key}="{attribute_value(value)}"' for key, value in attributes)
    return f"<{name}{spelled}>{inner}</{name}>" if inner else f"<{name}{spelled}/>"


def _document_bytes(method_element: str) -> bytes:
    return f"{_DECLARATION}<Root>{method_element}</Root>".encode()


def _bounded(name: str, value: int, bounds: tuple[int, int]) -> str:
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name}={value} does not fit the DLL's field")
    return str(value)


def _timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def out_buf(payload: str) -> str:
    """How an answer carries the DLL's OutBuf: `<OutBuf OutKind="1">payload</OutBuf>` inside the method
    element, as AndryPol/FarcardsNet's HTTP tunnel writes it [R]; ExtDllHTTP's own form is not
    documented [I], so this is the one place to change if a real DLL reads it elsewhere."""
    return f'<OutBuf OutKind="{OUT_KIND_XML}">{payload}</OutBuf>'


_FLAGS = ("Deleted", "Seize", "StopDate", "Holy", "Manager", "Locked")
_NUMBERS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("PersonID", INT64),
    ("Account", DWORD),
    ("Unpay", DWORD),
    ("Bonus", WORD),
    ("Discount", WORD),
    ("DiscLimit", INT64),
    ("Summa", INT64),
    *((f"Sum{n}", INT64) for n in range(2, 9)),
)
_TEXTS = ("DopInfo", "ScrMessage", "PrnMessage")


def _card_info_attributes(info: CardInfo) -> list[tuple[str, str]]:
    """The CardInfo record in the DLL's order; absent numbers and empty texts are left out."""
    attributes = [(flag, "1" if getattr(info, flag) else "0") for flag in _FLAGS]
    if info.WhyLock:
        attributes.append(("WhyLock", truncated(info.WhyLock, TEXT_LIMIT)))
    if info.Holder:
        attributes.append(("Holder", truncated(info.Holder, HOLDER_LIMIT)))
    for name, bounds in _NUMBERS:
        value = getattr(info, name)
        if value is not None:
            attributes.append((name, _bounded(name, value, bounds)))
    attributes += [
        (name, truncated(getattr(info, name), TEXT_LIMIT)) for name in _TEXTS if getattr(info, name)
    ]
    return attributes


def get_card_info_ex_answer(info: CardInfo) -> bytes:
    """`Result="0"`: the card exists and this is what the till gets."""
    return _document_bytes(_element("GetCardInfoEx", [*_card_info_attributes(info), ("Result", "0")]))


def get_card_info_ex_refusal(reason: str | None = None) -> bytes:
    """`Result="1"` (no such card, or the request could not be read), with the reason as ErrorText [I]."""
    attributes = [("ErrorText", truncated(reason, TEXT_LIMIT))] if reason else []
    return _document_bytes(_element("GetCardInfoEx", [*attributes, ("Result", "1")]))


def _tr_transaction(item: TrTransaction) -> str:
    attributes: list[tuple[str, str]] = [("cardcode", item.cardcode)]
    for name in ("num", "uni", "linetag", "ext_id", "subaccount", "value", "extinfo", "slip"):
        value = getattr(item, name)
        if value is not None:
            attributes.append((name, str(value)))
    if item.dts is not None:
        attributes.append(("dts", _timestamp(item.dts)))
    return _element("TRANSACTION", attributes)


def trresponse(response: TrResponse) -> str:
    """The TRRESPONSE element; error_code 0 is left out (absent means no error)."""
    attributes: list[tuple[str, str]] = []
    if response.error_code:
        attributes.append(("error_code", str(response.error_code)))
    if response.dts is not None:
        attributes.append(("dts", _timestamp(response.dts)))
    if response.err_text:
        attributes.append(("err_text", truncated(response.err_text, TEXT_LIMIT)))
    if response.placeid:
        attributes.append(("placeid", response.placeid))
    inner = "".join(_tr_transaction(item) for item in response.transactions)
    return _element("TRRESPONSE", attributes, inner)


def transactions_ex_answer(*, is_applied: bool, response: TrResponse | None = None) -> bytes:
    """`Result="0"` when every transaction was applied, `"1"` when none was; TRRESPONSE in the OutBuf."""
    inner = out_buf(trresponse(response)) if response is not None else ""
    return _document_bytes(_element("TransactionsEx", [("Result", "0" if is_applied else "1")], inner))


def transactions_ex_refusal(reason: str, error_code: int = 1) -> bytes:
    """`Result="1"` with a TRRESPONSE error, as protocol 30 (FarCards 6.04+) expects a failure to say why."""
    return transactions_ex_answer(
        is_applied=False, response=TrResponse(error_code=error_code, err_text=reason)
    )


def find_email_answer(match: EmailMatch) -> bytes:
    """`Result="0"` with the account, card and holder name found for the address."""
    attributes = [
        ("Account", _bounded("Account", match.Account, DWORD)),
        ("CardCode", _bounded("CardCode", match.CardCode, CARD)),
    ]
    if match.Name:
        attributes.append(("Name", truncated(match.Name, HOLDER_LIMIT)))
    return _document_bytes(_element("FindEmail", [*attributes, ("Result", "0")]))


def find_email_refusal(reason: str = "Email not found") -> bytes:
    """`Result="1"` with ErrorText, as the reference server answers an unknown address."""
    return _document_bytes(
        _element("FindEmail", [("ErrorText", truncated(reason, TEXT_LIMIT)), ("Result", "1")])
    )


def refusal(method: Method, reason: str) -> bytes:
    """The failing answer of a method, for a request that could not be read or was refused."""
    if method == "TransactionsEx":
        return transactions_ex_refusal(reason)
    if method == "FindEmail":
        return find_email_refusal(reason)
    return get_card_info_ex_refusal(reason)
