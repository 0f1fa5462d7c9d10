"""Settlement statements after real guest flows: funding splits, fees, refunds in a later month, scopes,
venue-local month edges, and the CSV and XLSX exports of the same numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest

from hub.clock import UTC, FrozenClock
from hub.exports import XLSX_MEDIA
from hub.settlement.schemas import LINE_COLUMNS
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import World, receipt_body

Obj = dict[str, Any]
MONEY = [c for c in LINE_COLUMNS if c.endswith("_minor") or c in ("visits", "receipts", "refunds")]


@dataclass
class Coalition:
    """The flow world plus a second venue of the same partner (Vladivostok) with a 20 % venue offer that
    the coalition funds at 30 %; the program charges 50.00 a visit and 2 % of the paid check."""

    world: World
    venue_2: Obj
    till_2: dict[str, str]
    offer_2: Obj

    @property
    def client(self) -> httpx.AsyncClient:
        return self.world.client

    async def sale(self, till: dict[str, str], check_id: str, closed_at: str) -> Obj:
        """A new member's visit, verified by PIN, closed with the standard receipt."""
        member = await builders.member(self.client, self.world.program, tier_code="silver")
        with self.world.at(closed_at):  # verified just before its check closed
            scan = await self.client.post("/v1/scans", json={"code": member["card_number"]}, headers=till)
            assert scan.status_code == 201, scan.text
            verified = await self.client.post(
                f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": self.world.last_pin()}, headers=till
            )
            assert verified.status_code == 200, verified.text
            receipt = await self.client.post(
                f"/v1/visits/{verified.json()['visit_id']}/receipt",
                json=receipt_body(check_id, closed_at=closed_at),
                headers=till,
            )
        assert receipt.status_code == 201, receipt.text
        answer: Obj = receipt.json()
        return answer

    async def refund(self, till: dict[str, str], receipt: Obj, amount_minor: int | None = None) -> None:
        body: Obj = {"reason": "returned"}
        if amount_minor is not None:
            body["amount_minor"] = amount_minor
        refunded = await self.client.post(
            f"/v1/receipts/{receipt['receipt_id']}/refund", json=body, headers=till
        )
        assert refunded.status_code == 201, refunded.text

    async def statement(self, period: str, headers: dict[str, str] = ADMIN, **params: str) -> Obj:
        response = await self.client.get(
            "/v1/settlements", params={"period": period, **params}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: Obj = response.json()
        return body


@pytest.fixture
async def coalition(world: World) -> Coalition:
    client = world.client
    with world.at("2026-11-01T00:00:00Z"):  # in force for the month's sales
        patched = await client.patch(
            f"/v1/programs/{world.program['id']}",
            json={"fees": {"per_visit_minor": 5_000, "percent_of_check": 2}},
            headers=ADMIN,
        )
    assert patched.status_code == 200, patched.text
    venue_2 = await builders.venue(client, world.partner, timezone="Asia/Vladivostok")
    terminal_2 = await builders.terminal(client, venue_2)
    offer_2 = await builders.offer(
        client,
        world.program,
        at_venue=venue_2,
        discount_percent=20,
        funding={"coalition_percent": 30, "venue_percent": 70},
    )
    return Coalition(world=world, venue_2=venue_2, till_2=bearer(terminal_2["api_key"]), offer_2=offer_2)


def figures(line: Obj) -> dict[str, int]:
    return {k: line[k] for k in MONEY}


def line_of(statement: Obj, venue: Obj, kind: str) -> Obj:
    (found,) = [x for x in statement["lines"] if x["venue"]["id"] == venue["id"] and x["kind"] == kind]
    line: Obj = found
    return line


# Venue 1: 430 000 check, food 250 000 at 10 % (alcohol excluded) → 25 000 discount, all the venue's.
# Venue 2: 430 000 check at 20 % → 86 000, the coalition's 30 % = 25 800. Fees 5 000 + 2 % of the paid check.
VENUE_1_SALE = {
    "visits": 1,
    "receipts": 1,
    "refunds": 0,
    "check_sum_minor": 430_000,
    "paid_minor": 405_000,
    "discount_minor": 25_000,
    "coalition_share_minor": 0,
    "venue_share_minor": 25_000,
    "fee_per_visit_minor": 5_000,
    "fee_percent_minor": 8_100,
    "fees_minor": 13_100,
}
VENUE_2_SALE = {
    "visits": 1,
    "receipts": 1,
    "refunds": 0,
    "check_sum_minor": 430_000,
    "paid_minor": 344_000,
    "discount_minor": 86_000,
    "coalition_share_minor": 25_800,
    "venue_share_minor": 60_200,
    "fee_per_visit_minor": 5_000,
    "fee_percent_minor": 6_880,
    "fees_minor": 11_880,
}


async def test_a_month_of_sales_with_two_fundings_and_fees(coalition: Coalition) -> None:
    """Each venue's line carries its visits, check sums, the discount split by its offer's funding, and fees;
    venue and partner totals add the lines up."""
    await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    statement = await coalition.statement("2026-11")
    assert statement["period"] == "2026-11"
    assert figures(line_of(statement, coalition.world.venue, "sales")) == VENUE_1_SALE
    assert figures(line_of(statement, coalition.venue_2, "sales")) == VENUE_2_SALE
    assert len(statement["lines"]) == 2
    (partner,) = statement["by_partner"]
    assert partner["partner"]["id"] == coalition.world.partner["id"]
    assert figures(partner) == {k: VENUE_1_SALE[k] + VENUE_2_SALE[k] for k in MONEY}
    assert {v["venue"]["id"] for v in statement["by_venue"]} == {
        coalition.world.venue["id"],
        coalition.venue_2["id"],
    }
    for line in statement["lines"]:
        assert line["program"]["id"] == coalition.world.program["id"]
        assert line["currency"] == "RUB"


async def test_a_refund_next_month_is_a_negative_line_there(coalition: Coalition, clock: FrozenClock) -> None:
    """A December refund of a November check leaves November as it was and puts negative lines in December:
    a full refund reverses the sale exactly, a half refund half of each figure."""
    sale_1 = await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    sale_2 = await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    november = await coalition.statement("2026-11")
    clock.set(dt.datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    await coalition.refund(coalition.world.till, sale_1)
    await coalition.refund(coalition.till_2, sale_2, amount_minor=172_000)
    assert await coalition.statement("2026-11") == november
    december = await coalition.statement("2026-12")
    full = figures(line_of(december, coalition.world.venue, "refunds"))
    assert full == {**{k: -v for k, v in VENUE_1_SALE.items()}, "visits": 0, "receipts": 0, "refunds": 1}
    half = figures(line_of(december, coalition.venue_2, "refunds"))
    assert half == {
        "visits": 0,
        "receipts": 0,
        "refunds": 1,
        "check_sum_minor": -215_000,
        "paid_minor": -172_000,
        "discount_minor": -43_000,
        "coalition_share_minor": -12_900,
        "venue_share_minor": -30_100,
        "fee_per_visit_minor": 0,
        "fee_percent_minor": -3_440,
        "fees_minor": -3_440,
    }
    assert [x["kind"] for x in december["lines"]] == ["refunds", "refunds"]


async def test_months_end_at_the_venues_local_midnight(coalition: Coalition) -> None:
    """23:30 on 30 November in Moscow is November; 00:30 on 1 December in Vladivostok is December, though
    both are 30 November in UTC."""
    await coalition.sale(coalition.world.till, "A-1", "2026-11-30T23:30:00+03:00")
    await coalition.sale(coalition.till_2, "B-1", "2026-12-01T00:30:00+10:00")
    november = await coalition.statement("2026-11")
    december = await coalition.statement("2026-12")
    assert [x["venue"]["id"] for x in november["lines"]] == [coalition.world.venue["id"]]
    assert [x["venue"]["id"] for x in december["lines"]] == [coalition.venue_2["id"]]


async def test_changes_after_the_sale_do_not_rewrite_the_statement(
    coalition: Coalition, clock: FrozenClock
) -> None:
    """New fees and new funding apply from then on: the visit keeps its funding snapshot and the sale the
    fees in force when it was written."""
    await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    before = await coalition.statement("2026-11")
    clock.advance(seconds=1)
    client = coalition.client
    changed = await client.patch(
        f"/v1/programs/{coalition.world.program['id']}",
        json={"fees": {"per_visit_minor": 9_000}},
        headers=ADMIN,
    )
    assert changed.json()["fees"] == {"per_visit_minor": 9_000, "percent_of_check": None}
    offer = await client.patch(
        f"/v1/offers/{coalition.offer_2['id']}", json={"funding": {"coalition_percent": 100}}, headers=ADMIN
    )
    assert offer.json()["funding"] == {"coalition_percent": 100.0, "venue_percent": 0.0}
    assert await coalition.statement("2026-11") == before
    await coalition.sale(coalition.till_2, "B-2", "2026-11-20T22:15:00+10:00")
    line = line_of(await coalition.statement("2026-11"), coalition.venue_2, "sales")
    assert line["coalition_share_minor"] == 25_800 + 86_000
    assert line["fee_per_visit_minor"] == 5_000 + 9_000


# ---- scopes ----


async def test_each_role_sees_its_own_part(coalition: Coalition) -> None:
    """Admin and the program's concierge see both venues, the partner its own, a venue only itself, another
    program's concierge nothing, a terminal is refused."""
    await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    client, world = coalition.client, coalition.world
    other_program = await builders.program(client, card_rules=[{"type": "prefix", "value": "66"}])
    keys = {
        "concierge": await builders.key(client, "concierge", program_ids=[world.program["id"]]),
        "stranger": await builders.key(client, "concierge", program_ids=[other_program["id"]]),
        "partner": await builders.key(client, "partner", partner_id=world.partner["id"]),
        "venue": await builders.key(client, "venue", venue_id=coalition.venue_2["id"]),
    }
    both = {world.venue["id"], coalition.venue_2["id"]}
    expected = {"concierge": both, "stranger": set(), "partner": both, "venue": {coalition.venue_2["id"]}}
    for role, venues in expected.items():
        statement = await coalition.statement("2026-11", headers=bearer(keys[role]))
        assert {x["venue"]["id"] for x in statement["lines"]} == venues, role
    venue_only = await coalition.statement("2026-11", headers=bearer(keys["venue"]))
    assert figures(venue_only["by_partner"][0]) == VENUE_2_SALE
    terminal = await client.get("/v1/settlements", params={"period": "2026-11"}, headers=world.till)
    assert (terminal.status_code, error_of(terminal)["code"]) == (403, "forbidden")


async def test_another_tenants_partner_gets_no_numbers(coalition: Coalition) -> None:
    """partner_id of another partner is 404 for a partner, venue or unrelated concierge key, with no numbers;
    the admin filters by it and gets only that partner."""
    client, world = coalition.client, coalition.world
    await coalition.sale(world.till, "A-1", "2026-11-20T21:15:00+03:00")
    other = await builders.partner(client)
    other_venue = await builders.venue(client, other)
    other_program = await builders.program(client, card_rules=[{"type": "prefix", "value": "66"}])
    await builders.offer(client, other_program, at_partner=other)
    keys = [
        await builders.key(client, "partner", partner_id=world.partner["id"]),
        await builders.key(client, "venue", venue_id=world.venue["id"]),
        await builders.key(client, "concierge", program_ids=[world.program["id"]]),
    ]
    for key in keys:
        response = await client.get(
            "/v1/settlements", params={"period": "2026-11", "partner_id": other["id"]}, headers=bearer(key)
        )
        assert (response.status_code, error_of(response)["code"]) == (404, "not_found")
        assert "405000" not in response.text
        assert other_venue["id"] not in response.text
    mine = await coalition.statement("2026-11", partner_id=world.partner["id"])
    assert len(mine["lines"]) == 1
    theirs = await coalition.statement("2026-11", partner_id=other["id"])
    assert theirs["lines"] == []
    assert theirs["partner_id"] == other["id"]


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-11", "2026-11-01", "november", ""])
async def test_a_bad_period_is_422(coalition: Coalition, period: str) -> None:
    """period must be YYYY-MM with a real month."""
    response = await coalition.client.get("/v1/settlements", params={"period": period}, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")


async def test_period_is_required(coalition: Coalition) -> None:
    """Without period the answer is 422, naming the parameter."""
    response = await coalition.client.get("/v1/settlements", headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")
    assert "period" in response.text


# ---- exports ----


def _expected_rows(statement: Obj) -> list[dict[str, Any]]:
    rows = []
    for line in statement["lines"]:
        row: dict[str, Any] = {}
        for column in LINE_COLUMNS:
            value: Any = line
            for part in column.split("."):
                value = value[part]
            row[column] = value
        rows.append(row)
    return rows


async def _month_with_refund(coalition: Coalition, clock: FrozenClock) -> None:
    sale = await coalition.sale(coalition.world.till, "A-1", "2026-11-20T21:15:00+03:00")
    await coalition.sale(coalition.till_2, "B-1", "2026-11-20T21:15:00+10:00")
    clock.advance(hours=1)
    await coalition.refund(coalition.world.till, sale, amount_minor=100_000)


async def test_csv_round_trip(coalition: Coalition, clock: FrozenClock) -> None:
    """Accept: text/csv answers the statement's lines as UTF-8 CSV with a header row; parsed back, every
    value equals the JSON answer's, money as integers (negative refunds included)."""
    await _month_with_refund(coalition, clock)
    statement = await coalition.statement("2026-11")
    response = await coalition.client.get(
        "/v1/settlements", params={"period": "2026-11"}, headers={**ADMIN, "Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert 'filename="settlement.csv"' in response.headers["content-disposition"]
    assert response.content.count(b"\r\n") == len(statement["lines"]) + 1  # RFC 4180 line ends
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    assert reader.fieldnames == LINE_COLUMNS
    parsed: list[dict[str, Any]] = [
        {k: int(v) if k in MONEY else v for k, v in row.items()} for row in reader
    ]
    assert parsed == _expected_rows(statement)
    assert any(row["paid_minor"] < 0 for row in parsed)


async def test_xlsx_round_trip(coalition: Coalition, clock: FrozenClock) -> None:
    """?format=xlsx answers a real workbook: a bold header row, the same values as JSON, and money in number
    cells, in roubles with the rouble format."""
    await _month_with_refund(coalition, clock)
    statement = await coalition.statement("2026-11")
    response = await coalition.client.get(
        "/v1/settlements", params={"period": "2026-11", "format": "xlsx"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_MEDIA
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == LINE_COLUMNS
    assert all(c.font.b for c in rows[0])
    values = [dict(zip(LINE_COLUMNS, (c.value for c in row), strict=True)) for row in rows[1:]]
    in_roubles = [
        {k: v / 100 if k.endswith("_minor") else v for k, v in row.items()}
        for row in _expected_rows(statement)
    ]
    assert values == in_roubles  # money in major units in a workbook
    for row in rows[1:]:
        for column, cell in zip(LINE_COLUMNS, row, strict=True):
            if column in MONEY:
                assert cell.data_type == "n", column
                assert isinstance(cell.value, (int, float)), (column, cell.value)
                assert ("₽" in cell.number_format) == column.endswith("_minor"), column
            else:
                assert cell.data_type == "s", column
    assert sheet.column_dimensions["B"].width >= len("partner.name")


async def test_unknown_formats_are_refused_with_a_typed_body(coalition: Coalition) -> None:
    """?format=pdf is 422 naming format; an Accept header that allows none of JSON, CSV, XLSX is 406."""
    client = coalition.client
    bad = await client.get("/v1/settlements", params={"period": "2026-11", "format": "pdf"}, headers=ADMIN)
    assert (bad.status_code, error_of(bad)["code"]) == (422, "validation_failed")
    assert "format" in error_of(bad)["message"]
    refused = await client.get(
        "/v1/settlements", params={"period": "2026-11"}, headers={**ADMIN, "Accept": "application/pdf"}
    )
    assert (refused.status_code, error_of(refused)["code"]) == (406, "not_acceptable")
    json_anyway = await client.get(
        "/v1/settlements", params={"period": "2026-11"}, headers={**ADMIN, "Accept": "*/*"}
    )
    assert json_anyway.headers["content-type"].startswith("application/json")
