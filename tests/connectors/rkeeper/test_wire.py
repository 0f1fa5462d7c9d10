"""Reading FarCards requests: the shapes r_keeper versions send, and one typed refusal for everything else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.rkeeper import FarCardsRequestError, wire

CARD_QUERY = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<ROOT><QRY Card="8002" Restaurant="9999" UnitNo="2"><INPBUF>'
    '<CHECK stationcode="2" restaurantcode="199999999" cashservername="SERV01"'
    ' generateddatetime="2024-03-08T19:40:12" chmode="7" locale="1049" shiftdate="2024-03-08" shiftnum="41">'
    '<CHECKDATA checknum="0" ordernum="1001/1" guests="2" tablename="12" startservice="2024-03-08T18:05:00"'
    ' orderguid="{398624F7-CA8C-4AB8-8940-7D116BAE73E1}" checkguid="{32FA0A30-877B-4DCE-A80C-D29064F1ED8D}">'
    '<CHECKPERSONS count="1"><PERSON id="{D388}" name="Официантка Мария" code="7" role="7"/></CHECKPERSONS>'
    '<CHECKLINES count="2">'
    '<LINE id="{L1}" code="101" name="Борщ" uni="1" type="dish" price="450.50" pr_list_sum="901.00"'
    ' categ_id="Супы" quantity="2" sum="901.00"/>'
    '<LINE id="{L2}" code="305" name="Сыр сулугуни" uni="2" type="dish" price="1180.00" pr_list_sum="177.00"'
    ' categ_id="Закуски" quantity="0.150" sum="159.30"/>'
    "</CHECKLINES>"
    '<CHECKCATEGS count="1"><CATEG id="1" code="1" name="Супы" sum="901.00" discsum="0"/></CHECKCATEGS>'
    '<CHECKDISCOUNTS count="1"><DISCOUNT id="{D}" code="7" name="Коалиция -10%" uni="100" interface="1"'
    ' cardcode="8002" sum="17.70"/></CHECKDISCOUNTS>'
    '<CHECKPAYMENTS count="1"><PAYMENT id="{P}" code="4" name="VISA" uni="200" paytype="2" bsum="1060.30"'
    ' sum="1060.30" interface="0"/></CHECKPAYMENTS>'
    "</CHECKDATA></CHECK></INPBUF></QRY></ROOT>"
)

TRANSACTIONS = (
    '<?xml version="1.0" encoding="UTF-8"?><ROOT><Transactions>'
    '<TransactionsEx Card="8002" PersonID="1010" Account="8002" Kind="1" Summa="-17700" Restaurant="9999"'
    ' RKDate="45359" RKUnit="2" RKCheck="4217" VatSumA="106030" VatPrcA="2000"/>'
    '<TransactionsEx Card="8002" Kind="3" Summa="106030"/>'
    "</Transactions>"
    '<INPBUF><CHECK chmode="1"><CHECKDATA checkguid="{C}" closedatetime="2024-03-08T20:15:31"/></CHECK>'
    "</INPBUF>"
    "</ROOT>"
)


def test_get_card_info_ex_reads_the_query_and_the_check() -> None:
    """QRY gives Card/Restaurant/UnitNo; INPBUF's CHECK gives the mode, the check's ids, lines and money."""
    request = wire.parse_get_card_info_ex(CARD_QUERY.encode())
    assert (request.Card, request.Restaurant, request.UnitNo) == (8002, 9999, 2)
    check = request.check
    assert check is not None
    assert check.checkdata is not None
    assert (check.chmode, check.restaurantcode, check.stationcode, check.cashservername) == (
        7,
        "199999999",
        "2",
        "SERV01",
    )
    assert check.generateddatetime == dt.datetime.fromisoformat("2024-03-08T19:40:12")
    assert (check.shiftdate, check.shiftnum, check.locale) == (dt.date(2024, 3, 8), 41, 1049)
    data = check.checkdata
    assert (data.checkguid, data.guests, data.tablename) == (
        "{32FA0A30-877B-4DCE-A80C-D29064F1ED8D}",
        2,
        "12",
    )
    assert [(line.name, line.price, line.quantity, line.sum) for line in data.checklines] == [
        ("Борщ", Decimal("450.50"), Decimal(2), Decimal("901.00")),
        ("Сыр сулугуни", Decimal("1180.00"), Decimal("0.150"), Decimal("159.30")),
    ]
    assert data.checkpersons[0].name == "Официантка Мария"
    assert data.checkcategs[0].name == "Супы"
    assert (data.checkdiscounts[0].cardcode, data.checkdiscounts[0].sum) == ("8002", Decimal("17.70"))
    assert (data.checkpayments[0].paytype, data.checkpayments[0].bsum) == (2, Decimal("1060.30"))


def test_money_in_the_check_is_decimal_never_float() -> None:
    """Prices and sums arrive as Decimal with their kopecks intact (0.1 + 0.2 stays 0.3)."""
    body = CARD_QUERY.replace('price="450.50"', 'price="0.10"').replace('sum="901.00"/>', 'sum="0.20"/>')
    line = _lines(wire.parse_get_card_info_ex(body.encode()))[0]
    assert isinstance(line.price, Decimal)
    assert isinstance(line.sum, Decimal)
    assert line.price + line.sum == Decimal("0.30")


def test_transactions_ex_reads_every_record_and_the_check() -> None:
    """Each TransactionsEx is one record (Summa signed, RKDate a day serial, VAT pairs); the CHECK follows."""
    request = wire.parse_transactions_ex(TRANSACTIONS.encode())
    first, second = request.transactions
    assert (first.Card, first.Kind, first.Summa, first.PersonID, first.Account) == (
        8002,
        1,
        -17700,
        1010,
        8002,
    )
    assert (first.Restaurant, first.RKUnit, first.RKCheck) == (9999, 2, 4217)
    assert first.RKDate == dt.date(2024, 3, 8)
    assert first.vat == (wire.Vat(letter="A", VatSum=106030, VatPrc=2000),)
    assert (second.Kind, second.Summa, second.PersonID, second.RKDate, second.vat) == (
        3,
        106030,
        None,
        None,
        (),
    )
    assert request.check is not None
    assert request.check.chmode == 1
    assert request.check.checkdata is not None
    assert request.check.checkdata.closedatetime == dt.datetime.fromisoformat("2024-03-08T20:15:31")


@pytest.mark.parametrize(
    ("spelled", "expected"),
    [
        ('RKDate="45359"', dt.date(2024, 3, 8)),
        ('RKDate="0"', dt.date(1899, 12, 30)),
        ('RKDate="2024-03-08"', dt.date(2024, 3, 8)),
        ('RKDate="2024-03-08T20:15:31"', dt.date(2024, 3, 8)),
        ('RKDate="2024-03-08T20-15-31"', dt.date(2024, 3, 8)),
        ('RKDate="08.03.2024"', dt.date(2024, 3, 8)),
        ('RKDate="вчера"', None),
        ('RKDate="99999999999"', None),
        ('RKDate=""', None),
    ],
)
def test_cash_date_is_a_day_serial_or_a_date(spelled: str, expected: dt.date | None) -> None:
    """RKDate: days since 1899-12-30 or an ISO (or dd.mm.yyyy) date; anything else is None, not a refusal."""
    body = TRANSACTIONS.replace('RKDate="45359"', spelled)
    assert wire.parse_transactions_ex(body.encode()).transactions[0].RKDate == expected


def test_cash_number_is_read_as_rkunit_or_rkuni() -> None:
    """One receiver spells the cash number RKUnit, another RKUni: both land in RKUnit."""
    body = TRANSACTIONS.replace('RKUnit="2"', 'RKUni="5"')
    assert wire.parse_transactions_ex(body.encode()).transactions[0].RKUnit == 5


def test_names_match_case_insensitively_and_unknown_ones_are_ignored() -> None:
    """root, qry, card, CHMODE… in any case; attributes r_keeper adds later change nothing."""
    body = (
        '<root><qry CARD="8002" restaurant="9999" unitno="2" НовоеПоле="x"><inpbuf>'
        '<check CHMODE="5" Extra="1"><checkdata CheckGuid="{G}"><checklines>'
        '<line NAME="Хинкали" Price="89.90"'
        ' Quantity="5" Sum="449.50" unknown="?"/></checklines></checkdata></check></inpbuf></qry></root>'
    )
    request = wire.parse_get_card_info_ex(body.encode())
    assert request.Card == 8002
    assert request.check is not None
    assert request.check.chmode == 5
    assert request.check.checkdata is not None
    assert request.check.checkdata.checkguid == "{G}"
    assert _lines(request)[0].name == "Хинкали"
    assert _lines(request)[0].sum == Decimal("449.50")


def test_inpbuf_is_optional() -> None:
    """A bare QRY (a technical call, or a FarCards without the check buffer) has no check."""
    request = wire.parse_get_card_info_ex(b'<ROOT><QRY Card="7020" Restaurant="1" UnitNo="65"></QRY></ROOT>')
    assert (request.Card, request.check) == (7020, None)


@pytest.mark.parametrize(
    "body",
    [
        # INPBUF beside QRY instead of inside it
        '<ROOT><QRY Card="8002"/><INPBUF><CHECK chmode="6"/></INPBUF></ROOT>',
        # the buffer's own XML declaration kept at its start
        '<ROOT><QRY Card="8002"><INPBUF>\n<?xml version="1.0" encoding="utf-8"?><CHECK chmode="6"/></INPBUF>'
        "</QRY></ROOT>",
        # the buffer sent as escaped text rather than as elements
        '<ROOT><QRY Card="8002"><INPBUF>&lt;?xml version="1.0"?&gt;&lt;CHECK chmode="6"/&gt;</INPBUF>'
        "</QRY></ROOT>",
    ],
)
def test_inpbuf_is_found_where_versions_may_put_it(body: str) -> None:
    """The check is read from INPBUF beside QRY, after an inner declaration, or from escaped text."""
    check = wire.parse_get_card_info_ex(body.encode()).check
    assert check is not None
    assert check.chmode == 6


def test_guests_spelled_quests_are_read() -> None:
    """AndryPol's model spells the guest count `quests`; it is read when `guests` is absent."""
    body = b'<ROOT><QRY Card="1"><INPBUF><CHECK><CHECKDATA quests="3"/></CHECK></INPBUF></QRY></ROOT>'
    check = wire.parse_get_card_info_ex(body).check
    assert check is not None
    assert check.checkdata is not None
    assert check.checkdata.guests == 3


def test_a_comma_is_read_as_the_decimal_point() -> None:
    """A Russian-locale decimal separator (450,50) reads as 450.50."""
    line = _lines(wire.parse_get_card_info_ex(CARD_QUERY.replace("450.50", "450,50").encode()))[0]
    assert line.price == Decimal("450.50")


def test_unreadable_dates_in_the_check_are_none() -> None:
    """The vendor's own example has a garbled generateddatetime: it becomes None, the check is still read."""
    body = CARD_QUERY.replace("2024-03-08T19:40:12", "2013-08-2116:2316:23:56")
    check = wire.parse_get_card_info_ex(body.encode()).check
    assert check is not None
    assert check.generateddatetime is None
    assert check.restaurantcode == "199999999"


def test_transactions_straight_in_root_are_read() -> None:
    """TransactionsEx elements without the Transactions wrapper are still the request's records."""
    request = wire.parse_transactions_ex(b'<ROOT><TransactionsEx Card="1" Kind="2" Summa="500"/></ROOT>')
    assert [(t.Card, t.Kind, t.Summa) for t in request.transactions] == [(1, 2, 500)]


def test_find_email_reads_the_address() -> None:
    """FindEmail's QRY carries Email; spaces around it are dropped."""
    request = wire.parse_find_email(' <ROOT><QRY Email=" Гость@Пример.рф "/></ROOT>'.encode())
    assert request.Email == "Гость@Пример.рф"


def test_a_body_of_exactly_256_kib_is_read() -> None:
    """The limit is inclusive: a valid request padded to 256 KiB is parsed."""
    head = b'<ROOT><QRY Card="8002"/>'
    body = head + b" " * (wire.MAX_BODY_BYTES - len(head) - len(b"</ROOT>")) + b"</ROOT>"
    assert len(body) == wire.MAX_BODY_BYTES
    assert wire.parse_get_card_info_ex(body).Card == 8002


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    '<ROOT><QRY Card="&lol2;"/></ROOT>'
)
EXTERNAL_ENTITY = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ROOT><QRY Card="1" x="&x;"/></ROOT>'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<ROOT><QRY Card="1"/></ROOT>' + b" " * wire.MAX_BODY_BYTES, "larger than 256 KiB"),
        ('<ROOT><QRY Card="1" Holder="Борщ"/></ROOT>'.encode("cp1251"), "not UTF-8"),
        (b'<ROOT><QRY Card="1"></ROOT>', "not well-formed"),
        (b"", "not well-formed"),
        (b'<ROOT><QRY Card="1"/></ROOT><ROOT/>', "not well-formed"),
        (BILLION_LAUGHS.encode(), "DOCTYPE"),
        (EXTERNAL_ENTITY.encode(), "DOCTYPE"),
        (b'<!DOCTYPE ROOT><ROOT><QRY Card="1"/></ROOT>', "DOCTYPE"),
        (b'<ROOT><QRY Card="&unknown;"/></ROOT>', "not well-formed"),
        (b'<ROOT><QRY Card="1\x01"/></ROOT>', "not well-formed"),
        (b'<REQUEST><QRY Card="1"/></REQUEST>', "root element"),
        (b"<ROOT/>", "no QRY"),
        (b'<ROOT><QRY Restaurant="9999"/></ROOT>', "no Card"),
        (b'<ROOT><QRY Card=""/></ROOT>', "no Card"),
        (b'<ROOT><QRY Card="80O2"/></ROOT>', "Card is not an integer"),
        (b'<ROOT><QRY Card="8002.0"/></ROOT>', "Card is not an integer"),
        ('<ROOT><QRY Card="٨٠٠٢"/></ROOT>'.encode(), "Card is not an integer"),
        (b'<ROOT><QRY Card="1_000"/></ROOT>', "Card is not an integer"),
        (b'<ROOT><QRY Card="-1"/></ROOT>', "Card is out of range"),
        (b'<ROOT><QRY Card="9223372036854775808"/></ROOT>', "Card is out of range"),
        (b'<ROOT><QRY Card="1" card="2"/></ROOT>', "twice"),
        ('<ROOT><QRY Card="1" UnitNo="второй"/></ROOT>'.encode(), "UnitNo is not an integer"),
        (
            b'<ROOT><QRY Card="1"><INPBUF><CHECK chmode="pay"/></INPBUF></QRY></ROOT>',
            "chmode is not an integer",
        ),
        (
            b'<ROOT><QRY Card="1"><INPBUF><CHECK><CHECKDATA><CHECKLINES><LINE price="12.3.4"/></CHECKLINES>'
            b"</CHECKDATA></CHECK></INPBUF></QRY></ROOT>",
            "price is not a decimal number",
        ),
        (
            b'<ROOT><QRY Card="1"><INPBUF><CHECK><CHECKDATA><CHECKLINES><LINE sum="1e5"/></CHECKLINES>'
            b"</CHECKDATA></CHECK></INPBUF></QRY></ROOT>",
            "sum is not a decimal number",
        ),
    ],
)
def test_get_card_info_ex_refusals(body: bytes, reason: str) -> None:
    """Too large, not UTF-8, malformed, DOCTYPE/entities, no Card, a badly spelled number: one typed error."""
    with pytest.raises(FarCardsRequestError, match=reason) as caught:
        wire.parse_get_card_info_ex(body)
    assert caught.value.reason == str(caught.value)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ('Kind="2" Summa="500"', "no Card"),
        ('Card="1" Summa="500"', "no Kind"),
        ('Card="1" Kind="2"', "no Summa"),
        ('Card="1" Kind="4" Summa="500"', "Kind is out of range"),
        ('Card="1" Kind="2" Summa="50.00"', "Summa is not an integer"),
        ('Card="1" Kind="2" Summa="пятьсот"', "Summa is not an integer"),
        ('Card="1" Kind="2" Summa="500" RKUnit="256"', "RKUnit is out of range"),
        ('Card="1" Kind="2" Summa="500" VatPrcA="20%"', "VatPrcA is not an integer"),
    ],
)
def test_transactions_ex_refusals(attributes: str, reason: str) -> None:
    """A record without Card, Kind or Summa, or with a number out of the DLL's field, refuses the request."""
    with pytest.raises(FarCardsRequestError, match=reason):
        wire.parse_transactions_ex(
            f"<ROOT><Transactions><TransactionsEx {attributes}/></Transactions></ROOT>".encode()
        )


def test_transactions_ex_without_records_is_refused() -> None:
    """A TransactionsEx call must carry at least one record."""
    with pytest.raises(FarCardsRequestError, match="no TransactionsEx"):
        wire.parse_transactions_ex(b"<ROOT><Transactions/></ROOT>")


@pytest.mark.parametrize("body", [b"<ROOT><QRY/></ROOT>", b'<ROOT><QRY Email="  "/></ROOT>', b"<ROOT/>"])
def test_find_email_without_an_address_is_refused(body: bytes) -> None:
    """FindEmail needs a non-blank Email in QRY."""
    with pytest.raises(FarCardsRequestError):
        wire.parse_find_email(body)


def test_the_reason_never_quotes_the_body() -> None:
    """A refusal names the attribute, not its value (which may be a phone number typed as a card)."""
    with pytest.raises(FarCardsRequestError) as caught:
        wire.parse_get_card_info_ex(b'<ROOT><QRY Card="+79161234567"/></ROOT>')
    assert "7916" not in caught.value.reason


# --- fuzzing ----------------------------------------------------------------------------------

PARSERS: list[Callable[[bytes], object]] = [
    wire.parse_get_card_info_ex,
    wire.parse_transactions_ex,
    wire.parse_find_email,
]
VALID = [
    CARD_QUERY.encode(),
    TRANSACTIONS.encode(),
    '<ROOT><QRY Email="ресторан@пример.рф"/></ROOT>'.encode(),
]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parses_or_refuses(parse: Callable[[bytes], object], body: bytes) -> None:
    try:
        parse(body)
    except FarCardsRequestError as exc:
        reason = exc.reason
    else:
        return
    assert reason


@FUZZ
@given(body=st.binary(max_size=600), which=st.sampled_from(PARSERS))
def test_arbitrary_bytes_parse_or_raise_the_typed_error(
    body: bytes, which: Callable[[bytes], object]
) -> None:
    """Any bytes at all: a parsed request or FarCardsRequestError, never another exception."""
    _parses_or_refuses(which, body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid request with a few bytes deleted, replaced or inserted, or an attribute value swapped."""
    body = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["delete", "replace", "insert", "value"]))
        if action == "delete":
            del body[at : at + draw(st.integers(1, 8))]
        elif action == "replace":
            body[at] = draw(st.integers(0, 255))
        elif action == "insert":
            body[at:at] = draw(
                st.sampled_from([b"<", b">", b"&", b'"', b"=", b"\x00", "й".encode(), b"<!--"])
            )
        else:
            start = body.find(b'="', at)
            end = body.find(b'"', start + 2)
            if start >= 0 and end >= 0:
                value = draw(st.text(max_size=12)).replace('"', "").replace("<", "").replace("&", "")
                body[start + 2 : end] = value.encode("utf-8", "surrogatepass")
        if not body:
            break
    return bytes(body)


@FUZZ
@given(body=mutated(), which=st.sampled_from(PARSERS))
def test_mutated_requests_parse_or_raise_the_typed_error(
    body: bytes, which: Callable[[bytes], object]
) -> None:
    """Damaged versions of valid requests (any parser, any damage): parsed or FarCardsRequestError only."""
    _parses_or_refuses(which, body)


@FUZZ
@given(
    value=st.text(max_size=30),
    name=st.sampled_from(["Card", "Restaurant", "UnitNo", "Kind", "Summa", "RKDate", "RKUnit", "VatSumB"]),
)
def test_any_attribute_value_parses_or_raises_the_typed_error(value: str, name: str) -> None:
    """Any text in any numeric attribute of a record: parsed or FarCardsRequestError."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    record = f'<TransactionsEx Card="1" Kind="2" Summa="3" {name}="{escaped}"/>'
    body = f"<ROOT><Transactions>{record}</Transactions></ROOT>"
    _parses_or_refuses(wire.parse_transactions_ex, body.encode("utf-8", "surrogatepass"))


def _lines(request: wire.GetCardInfoExRequest) -> tuple[wire.Line, ...]:
    assert request.check is not None
    assert request.check.checkdata is not None
    return request.check.checkdata.checklines
