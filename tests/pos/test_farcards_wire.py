"""The test FarCards client against the hub's wire layer: what the client builds, wire.py reads field for
field; what wire.py answers, the client reads as ExtDllHTTP must (over real HTTP on loopback)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import aiohttp
import pytest
from aiohttp import web

from connectors.rkeeper import mapping, wire
from connectors.rkeeper.mapping import Intent
from tests.pos import farcards_client as fc

CARD = 8002


def parsed_check(request: wire.GetCardInfoExRequest | wire.TransactionsExRequest) -> wire.Check:
    assert request.check is not None
    assert request.check.checkdata is not None
    return request.check


def test_get_card_info_ex_round_trip() -> None:
    """QRY and every part of the realistic check the client builds come out of wire.py unchanged."""
    check = fc.realistic_check()
    request = wire.parse_get_card_info_ex(fc.get_card_info_ex_xml(CARD, check, restaurant=9999, unit=2))
    assert (request.Card, request.Restaurant, request.UnitNo) == (CARD, 9999, 2)
    read = parsed_check(request)
    assert (read.chmode, read.restaurantcode, read.stationcode, read.cashservername) == (
        fc.CHMODE_EDITING, check.restaurantcode, check.stationcode, check.cashservername,
    )  # fmt: skip
    assert (read.generateddatetime, read.shiftdate, read.shiftnum, read.locale) == (
        check.generated_at, check.shiftdate, check.shiftnum, 1049,
    )  # fmt: skip
    data = read.checkdata
    assert data is not None
    assert (data.checkguid, data.orderguid, data.ordernum, data.guests, data.tablename) == (
        check.checkguid, check.orderguid, check.ordernum, check.guests, check.tablename,
    )  # fmt: skip
    assert (data.startservice, data.closedatetime) == (check.started_at, check.closed_at)
    assert [person.name for person in data.checkpersons] == ["Официантка Мария"]


def test_check_lines_round_trip_with_kopecks() -> None:
    """Names (Cyrillic), codes, categories, prices, quantities and sums of every line, as Decimal."""
    check = fc.realistic_check()
    data = parsed_check(wire.parse_get_card_info_ex(fc.get_card_info_ex_xml(CARD, check))).checkdata
    assert data is not None
    assert [(line.name, line.code, line.categ_id, line.type) for line in data.checklines] == [
        (dish.name, dish.code, dish.categ_id or None, dish.type) for dish in check.lines
    ]
    assert [(line.price, line.quantity, line.pr_list_sum, line.sum) for line in data.checklines] == [
        (dish.price, dish.quantity, dish.list_sum, dish.sum) for dish in check.lines
    ]
    assert data.checklines[0].name == "Борщ"
    assert data.checklines[1].price == Decimal("89.90")


def test_discounts_payments_and_categories_round_trip() -> None:
    """CHECKDISCOUNTS, CHECKPAYMENTS and CHECKCATEGS: names, codes, cards and decimal sums."""
    check = fc.realistic_check()
    data = parsed_check(wire.parse_get_card_info_ex(fc.get_card_info_ex_xml(CARD, check))).checkdata
    assert data is not None
    assert [(d.name, d.code, d.cardcode, d.sum) for d in data.checkdiscounts] == [
        ("Коалиция PRIME -10% (кроме алкоголя)", "7", "8002", Decimal("204.75"))
    ]
    assert [(p.name, p.paytype, p.sum, p.bsum) for p in data.checkpayments] == [
        (p.name, p.paytype, p.sum, p.sum) for p in check.payments
    ]
    assert sum((p.sum or Decimal(0) for p in data.checkpayments), Decimal(0)) == Decimal("2622.75")
    assert {c.name: c.sum for c in data.checkcategs}["Алкоголь"] == Decimal("780.00")


def test_a_bare_query_round_trips_without_a_check() -> None:
    """A GetCardInfoEx without INPBUF reads as a card and no check."""
    request = wire.parse_get_card_info_ex(fc.get_card_info_ex_xml(7020, None, restaurant=1, unit=65))
    assert (request.Card, request.Restaurant, request.UnitNo, request.check) == (7020, 1, 65, None)


@pytest.mark.parametrize(
    ("date_form", "unit_attribute"), [("serial", "RKUnit"), ("iso", "RKUni"), ("iso", "RKUnit")]
)
def test_transactions_ex_round_trip(
    date_form: Literal["serial", "iso"], unit_attribute: Literal["RKUnit", "RKUni"]
) -> None:
    """Every record (Card, PersonID, Account, Kind, Summa, Restaurant, RKDate, cash number, RKCheck, VAT)."""
    records = tuple(
        fc.Tx(CARD, kind, summa, rk_date=dt.date(2024, 3, 8), vat=(("A", 262275, 2000),),
              date_form=date_form, unit_attribute=unit_attribute)
        for kind, summa in ((0, -15000), (1, -20475), (3, 247275))
    )  # fmt: skip
    request = wire.parse_transactions_ex(fc.transactions_ex_xml(records, fc.realistic_check().with_mode(1)))
    assert [(t.Card, t.Kind, t.Summa, t.PersonID, t.Account) for t in request.transactions] == [
        (CARD, 0, -15000, 1010, CARD), (CARD, 1, -20475, 1010, CARD), (CARD, 3, 247275, 1010, CARD),
    ]  # fmt: skip
    first = request.transactions[0]
    assert (first.Restaurant, first.RKDate, first.RKUnit, first.RKCheck) == (
        9999,
        dt.date(2024, 3, 8),
        2,
        4217,
    )
    assert first.vat == (wire.Vat(letter="A", VatSum=262275, VatPrc=2000),)
    assert parsed_check(request).chmode == 1


def test_find_email_round_trip() -> None:
    """The address the client sends is the one wire.py reads."""
    assert (
        wire.parse_find_email(fc.find_email_xml("директор@хинкальная.рф")).Email == "директор@хинкальная.рф"
    )


def test_the_chmode_sequence_of_one_check() -> None:
    """5 → 7 → 13 only look; TransactionsEx pays under 1; the return (3) flips every sign."""
    paid = fc.paid_transactions(CARD, discount=20475, bonus_paid=15000, guest_spend=247275)
    calls = fc.chmode_sequence(CARD, fc.realistic_check(), paid)
    assert [(call.method, call.chmode) for call in calls] == [
        ("GetCardInfoEx", 5), ("GetCardInfoEx", 7), ("GetCardInfoEx", 13),
        ("TransactionsEx", 1), ("TransactionsEx", 3),
    ]  # fmt: skip
    looks = [wire.parse_get_card_info_ex(call.body) for call in calls[:3]]
    assert [mapping.intent_of(parsed_check(look).chmode) for look in looks] == [Intent.LOOK] * 3
    payment, refund = (wire.parse_transactions_ex(call.body) for call in calls[3:])
    assert mapping.intent_of(parsed_check(payment).chmode) is Intent.PAYMENT
    assert mapping.intent_of(parsed_check(refund).chmode) is Intent.RETURN
    money = mapping.check_money(payment.transactions, "kopecks")
    assert money == mapping.CheckMoney(
        bonus_paid_minor=15000, discount_applied_minor=20475, bonus_accrued_minor=0, guest_spend_minor=247275
    )
    returned = mapping.check_money(refund.transactions, "kopecks")
    assert returned.bonus_paid_minor == -15000
    assert returned.guest_spend_minor == -247275
    assert parsed_check(payment).checkdata == parsed_check(refund).checkdata


def test_the_client_s_lines_become_receipt_lines() -> None:
    """The realistic check maps to receipt lines in kopecks; the free modifier is not a sale."""
    request = wire.parse_transactions_ex(
        fc.transactions_ex_xml(fc.paid_transactions(CARD, discount=1, bonus_paid=0, guest_spend=1),
                               fc.realistic_check().with_mode(1))
    )  # fmt: skip
    lines = mapping.receipt_lines(request.check)
    assert [(line.name, line.quantity, line.unit_price_minor, line.category, line.sku) for line in lines] == [
        ("Борщ", Decimal(2), 45050, "Супы", "101"),
        ("Хинкали бараньи", Decimal(5), 8990, "Горячее", "214"),
        ("Хачапури по-аджарски", Decimal(1), 52000, "Выпечка", "230"),
        ("Сыр сулугуни, 0,150 кг", Decimal("0.15"), 118000, "Закуски", "305"),
        ("Вино «Саперави», бокал", Decimal(2), 39000, "Алкоголь", "512"),
    ]
    assert sum(line.charged_minor or 0 for line in lines) == 282750


# --- answers over HTTP ------------------------------------------------------------------------


Answering = Callable[[bytes], tuple[int, str, bytes]]


@dataclass
class Processing:
    """A processing server on loopback that answers with what the test sets; records what it got."""

    answer: Answering = field(default=lambda body: (200, wire.CONTENT_TYPE, wire.get_card_info_ex_refusal()))
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((request.path, request.headers.get("Content-Type", ""), body))
        status, content_type, answer = self.answer(body)
        return web.Response(status=status, body=answer, headers={"Content-Type": content_type})


@pytest.fixture
async def processing() -> AsyncIterator[Processing]:
    server = Processing()
    application = web.Application()
    application.router.add_post("/pos/rkeeper/{token}/{handler}", server.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/pos/rkeeper/тестовый-токен"
    yield server
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def answering(answer: bytes, status: int = 200, content_type: str = wire.CONTENT_TYPE) -> Answering:
    """A processing server's fixed answer, whatever the request."""
    return lambda body: (status, content_type, answer)


async def test_post_reads_a_card_answer(processing: Processing, session: aiohttp.ClientSession) -> None:
    """A GetCardInfoEx posted as raw UTF-8 XML; the CardInfo answer is read with every attribute."""
    info = wire.CardInfo(Holder="Нино Г.", Account=CARD, Discount=25, Bonus=4, Summa=15000, DiscLimit=10000,
                         ScrMessage="PRIME Gold -15%\n Баланс 150,00")  # fmt: skip
    processing.answer = answering(wire.get_card_info_ex_answer(info))
    body = fc.get_card_info_ex_xml(CARD, fc.realistic_check())
    answer = await fc.post(session, f"{processing.url}/getcardinfoex", body)
    assert (answer.method, answer.result, answer.is_ok) == ("GetCardInfoEx", 0, True)
    assert answer.attributes["Holder"] == "Нино Г."
    assert answer.attributes["Discount"] == "25"
    assert answer.attributes["ScrMessage"] == "PRIME Gold -15%\n Баланс 150,00"
    path, content_type, received = processing.received[0]
    assert path.endswith("/getcardinfoex")
    assert content_type == fc.REQUEST_CONTENT_TYPE
    assert received == body


async def test_post_reads_a_refused_transaction_with_its_text(
    processing: Processing, session: aiohttp.ClientSession
) -> None:
    """TransactionsEx Result="1" comes with TRRESPONSE's error_code and err_text, as protocol 30 wants."""
    processing.answer = answering(wire.transactions_ex_refusal("Бонусов меньше, чем списывается"))
    paid = fc.paid_transactions(CARD, discount=0, bonus_paid=99999, guest_spend=1)
    answer = await fc.post(session, f"{processing.url}/transactionsex", fc.transactions_ex_xml(paid, None))
    assert (answer.method, answer.result) == ("TransactionsEx", 1)
    assert answer.trresponse is not None
    assert answer.trresponse.attributes == {"error_code": "1", "err_text": "Бонусов меньше, чем списывается"}


async def test_post_reads_find_email(processing: Processing, session: aiohttp.ClientSession) -> None:
    """FindEmail found: Account, CardCode and Name."""
    match = wire.EmailMatch(Account=CARD, CardCode=CARD, Name="Директор Хинкальной")
    processing.answer = answering(wire.find_email_answer(match))
    answer = await fc.post(session, f"{processing.url}/findemail", fc.find_email_xml("director@example.ru"))
    assert answer.attributes == {
        "Account": "8002",
        "CardCode": "8002",
        "Name": "Директор Хинкальной",
        "Result": "0",
    }


@pytest.mark.parametrize(
    ("answer", "status", "content_type", "complaint"),
    [
        (b"<html><body>Internal Server Error</body></html>", 500, "text/html", "HTTP 500"),
        (wire.get_card_info_ex_refusal(), 200, "text/html; charset=utf-8", "not XML"),
        (
            b'<?xml version="1.0"?><ROOT><GetCardInfoEx Result="0"/></ROOT>',
            200,
            "text/xml",
            "expected <Root>",
        ),
        (b'<Root><TransactionsEx Result="0"/></Root>', 200, "text/xml", "expected <Root>"),
        (b'<Root><GetCardInfoEx Result="ok"/></Root>', 200, "text/xml", "Result is 'ok'"),
        (b"<Root><GetCardInfoEx/></Root>", 200, "text/xml", "Result is None"),
        (b'<Root><GetCardInfoEx Locked="yes" Result="0"/></Root>', 200, "text/xml", "Locked is not 0 or 1"),
        (b'<Root><GetCardInfoEx Discount="70000" Result="0"/></Root>', 200, "text/xml", "Discount"),
        (
            ('<Root><GetCardInfoEx Holder="' + "Я" * 40 + '" Result="0"/></Root>').encode(),
            200,
            "text/xml",
            "Holder",
        ),
        ("<Root><GetCardInfoEx Result='0'/></Root>".encode("utf-16"), 200, "text/xml", "not UTF-8 XML"),
    ],
)
async def test_post_is_as_strict_as_the_dll(
    processing: Processing,
    session: aiohttp.ClientSession,
    answer: bytes,
    status: int,
    content_type: str,
    complaint: str,
) -> None:
    """An HTML error page, a wrong root or method element, a Result that is not 0/1, a CardInfo that does not
    fit the DLL's record: the client refuses them all, so a hub test using it cannot pass on them."""
    processing.answer = answering(answer, status, content_type)
    with pytest.raises(fc.AnswerError, match=complaint):
        await fc.post(session, f"{processing.url}/getcardinfoex", fc.get_card_info_ex_xml(CARD))
