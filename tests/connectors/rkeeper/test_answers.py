"""Writing FarCards answers: UTF-8 XML under <Root>, the DLL's attributes in its order, texts that fit."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DefusedET
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.rkeeper import wire
from connectors.rkeeper.xmltext import clean, truncated, utf16_length

DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


def method_element(answer: bytes, method: str) -> ET.Element:
    """The one element under Root, checked to be the method's."""
    assert answer.startswith(DECLARATION)
    root = DefusedET.fromstring(answer.decode("utf-8"), forbid_dtd=True)
    assert root.tag == "Root"
    assert len(root) == 1
    assert root[0].tag == method
    element: ET.Element = root[0]
    return element


def test_card_info_in_the_dll_order_with_result_last() -> None:
    """Flags, WhyLock, Holder, numbers, texts, then Result="0"; absent numbers are left out."""
    info = wire.CardInfo(
        Holder="Анна Кузнецова", PersonID=1010, Account=8002, Bonus=4, Discount=25,
        DiscLimit=10000, Summa=15000, ScrMessage="PRIME Gold -15%",
    )  # fmt: skip
    element = method_element(wire.get_card_info_ex_answer(info), "GetCardInfoEx")
    assert list(element.attrib) == [
        "Deleted", "Seize", "StopDate", "Holy", "Manager", "Locked", "Holder", "PersonID", "Account", "Bonus",
        "Discount", "DiscLimit", "Summa", "ScrMessage", "Result",
    ]  # fmt: skip
    assert element.attrib["Holder"] == "Анна Кузнецова"
    assert element.attrib["Summa"] == "15000"
    assert element.attrib["Locked"] == "0"
    assert element.attrib["Result"] == "0"


def test_a_locked_card_says_why() -> None:
    """Locked="1" with WhyLock: the waiter reads the reason on the till's screen."""
    info = wire.CardInfo(Locked=True, WhyLock="Подтвердите PIN гостя на странице сканирования")
    element = method_element(wire.get_card_info_ex_answer(info), "GetCardInfoEx")
    assert element.attrib["Locked"] == "1"
    assert element.attrib["WhyLock"] == "Подтвердите PIN гостя на странице сканирования"


def test_unknown_card_is_result_one() -> None:
    """No such card: Result="1" and nothing else (an ErrorText only when a reason is given)."""
    assert method_element(wire.get_card_info_ex_refusal(), "GetCardInfoEx").attrib == {"Result": "1"}
    refused = method_element(wire.get_card_info_ex_refusal("Карта не найдена"), "GetCardInfoEx")
    assert refused.attrib == {"ErrorText": "Карта не найдена", "Result": "1"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("Discount", 65536), ("Bonus", -1), ("Account", 2**32), ("Summa", 2**63), ("PersonID", -(2**63) - 1)],
)
def test_a_number_that_does_not_fit_the_dll_field_is_a_programming_error(field: str, value: int) -> None:
    """Discount/Bonus are Words, Account a DWORD, sums Int64: a value outside raises ValueError."""
    with pytest.raises(ValueError, match=field):
        wire.get_card_info_ex_answer(wire.CardInfo(**{field: value}))  # type: ignore[arg-type]


def test_attribute_values_are_escaped_and_controls_removed() -> None:
    """Quotes, <, >, & survive; line breaks and tabs survive as references; C0 controls and DEL vanish."""
    text = 'Гость "VIP" <3 & друзья \n вторая строка \t вкладка \x00\x07\x1b\x7f\x85 конец'
    answer = wire.get_card_info_ex_answer(wire.CardInfo(Holder="И", ScrMessage=text))
    assert b"&#10;" in answer
    assert b"&#9;" in answer
    assert b"\x00" not in answer
    assert b"\x1b" not in answer
    element = method_element(answer, "GetCardInfoEx")
    assert element.attrib["ScrMessage"] == 'Гость "VIP" <3 & друзья \n вторая строка \t вкладка  конец'


def test_holder_is_cut_to_39_characters_and_texts_to_255() -> None:
    """The DLL's Holder buffer is 40 bytes, the message buffers 256: longer texts are cut, not refused."""
    info = wire.CardInfo(Holder="Константинопольский Александр Владимирович", PrnMessage="ж" * 300)
    element = method_element(wire.get_card_info_ex_answer(info), "GetCardInfoEx")
    assert element.attrib["Holder"] == "Константинопольский Александр Владимиро"
    assert len(element.attrib["Holder"]) == wire.HOLDER_LIMIT == 39
    assert element.attrib["PrnMessage"] == "ж" * 255


def test_a_cut_never_splits_a_surrogate_pair() -> None:
    """An emoji takes two UTF-16 units: when only one is left it is dropped whole."""
    holder = "Ж" * 38 + "😀" + "Б"
    assert truncated(holder, wire.HOLDER_LIMIT) == "Ж" * 38
    assert truncated("Ж" * 37 + "😀", wire.HOLDER_LIMIT) == "Ж" * 37 + "😀"


@given(text=st.text(), limit=st.integers(0, 300))
def test_truncated_text_fits_and_is_a_prefix_of_the_clean_text(text: str, limit: int) -> None:
    """For any text: at most `limit` UTF-16 units, a prefix of the cleaned text, always encodable as UTF-8."""
    cut = truncated(text, limit)
    assert utf16_length(cut) <= limit
    assert clean(text).startswith(cut)
    assert utf16_length(clean(text)) <= limit or utf16_length(cut) >= limit - 1
    cut.encode("utf-8")


@given(text=st.text())
def test_any_text_makes_a_well_formed_answer(text: str) -> None:
    """Whatever the hub puts in a message, the answer parses and the message reads back cleaned."""
    element = method_element(wire.get_card_info_ex_answer(wire.CardInfo(DopInfo=text)), "GetCardInfoEx")
    assert element.attrib.get("DopInfo", "") == truncated(text, wire.TEXT_LIMIT)


def test_transactions_applied_is_result_zero() -> None:
    """Every transaction applied: <TransactionsEx Result="0"/> and nothing else."""
    assert method_element(wire.transactions_ex_answer(is_applied=True), "TransactionsEx").attrib == {
        "Result": "0"
    }


def test_a_refused_transaction_carries_trresponse_in_the_out_buf() -> None:
    """Protocol 30: Result="1" with TRRESPONSE error_code and err_text, nested in OutBuf OutKind=1."""
    element = method_element(
        wire.transactions_ex_refusal("Недостаточно бонусов: доступно 150,00"), "TransactionsEx"
    )
    assert element.attrib == {"Result": "1"}
    out_buf = element.find("OutBuf")
    assert out_buf is not None
    assert out_buf.attrib == {"OutKind": "1"}
    response = out_buf.find("TRRESPONSE")
    assert response is not None
    assert response.attrib == {"error_code": "1", "err_text": "Недостаточно бонусов: доступно 150,00"}


def test_trresponse_with_transactions_for_reconciliation() -> None:
    """A success may carry the hub's id per transaction (ext_id), place and time; error_code 0 is left out."""
    response = wire.TrResponse(
        dts=dt.datetime(2024, 3, 8, 20, 15, 32),  # noqa: DTZ001  # the cash server's local time
        placeid="Хинкальная/Бар",
        err_text="Начислено 120 бонусов",
        transactions=(
            wire.TrTransaction(cardcode="8002", num=1, ext_id="r-1"),
            wire.TrTransaction(
                cardcode="8002", num=2, ext_id="r-2", slip="Спасибо!\nЖдём снова", value=12000
            ),
        ),
    )
    element = method_element(
        wire.transactions_ex_answer(is_applied=True, response=response), "TransactionsEx"
    )
    found = element.find("OutBuf/TRRESPONSE")
    assert found is not None
    assert found.attrib == {"dts": "2024-03-08T20:15:32", "err_text": "Начислено 120 бонусов",
                            "placeid": "Хинкальная/Бар"}  # fmt: skip
    items = [dict(item.attrib) for item in found.findall("TRANSACTION")]
    assert items == [
        {"cardcode": "8002", "num": "1", "ext_id": "r-1"},
        {"cardcode": "8002", "num": "2", "ext_id": "r-2", "value": "12000", "slip": "Спасибо!\nЖдём снова"},
    ]


def test_out_buf_is_the_one_place_of_the_nesting() -> None:
    """The OutBuf wrapper is one function: the answer is exactly the method element around its output."""
    payload = wire.trresponse(wire.TrResponse(error_code=157, err_text="Ошибка"))
    assert payload == '<TRRESPONSE error_code="157" err_text="Ошибка"/>'
    answer = wire.transactions_ex_answer(
        is_applied=False, response=wire.TrResponse(error_code=157, err_text="Ошибка")
    )
    expected = f'<Root><TransactionsEx Result="1">{wire.out_buf(payload)}</TransactionsEx></Root>'
    assert answer == DECLARATION + expected.encode()


def test_find_email_found_and_not_found() -> None:
    """Found: Account, CardCode, Name, Result="0"; not found: ErrorText and Result="1"."""
    found = method_element(
        wire.find_email_answer(wire.EmailMatch(Account=8002, CardCode=8002, Name="Директор ресторана")),
        "FindEmail",
    )
    assert found.attrib == {
        "Account": "8002",
        "CardCode": "8002",
        "Name": "Директор ресторана",
        "Result": "0",
    }
    missing = method_element(wire.find_email_refusal(), "FindEmail")
    assert missing.attrib == {"ErrorText": "Email not found", "Result": "1"}


@pytest.mark.parametrize("method", ["GetCardInfoEx", "TransactionsEx", "FindEmail"])
def test_refusal_answers_in_the_method_s_own_shape(method: wire.Method) -> None:
    """An unreadable request gets the failing answer of the method it was sent to, with the reason."""
    element = method_element(wire.refusal(method, "запрос не читается"), method)
    assert element.attrib["Result"] == "1"
    response = element.find("OutBuf/TRRESPONSE")
    reason = response.get("err_text") if response is not None else element.get("ErrorText")
    assert reason == "запрос не читается"
