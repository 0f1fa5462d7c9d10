"""Exports: flattening, cell values, the CSV formula guard, chunked CSV and constant-memory XLSX, and every
exported list and statistics route read back as CSV and XLSX against its JSON answer."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import re
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import openpyxl
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from connectors.schemas import DeliveryRead
from hub.concierge.schemas import MemberVisit, ReferralRead
from hub.db import Database
from hub.exports import (
    CHUNK_ROWS,
    XLSX_MEDIA,
    Column,
    Export,
    Table,
    TableResponse,
    columns_of,
    csv_chunks,
    csv_text,
    is_money,
    plain,
    value_at,
    write_xlsx,
)
from hub.stats import schemas as stats
from partners.schemas import MemberRead
from tests.conftest import ADMIN, error_of
from tests.test_authz_matrix import build_world

Obj = dict[str, Any]
MSK = dt.timezone(dt.timedelta(hours=3))


class Colour(enum.Enum):
    RED = "red"


class Place(msgspec.Struct):
    id: int
    name: str


class Row(msgspec.Struct):
    id: uuid.UUID
    place: Place | None
    amount_minor: int
    share: float
    is_open: bool
    at: dt.datetime
    tags: list[str]


def test_columns_flatten_nested_structs() -> None:
    """A nested Struct (also an optional one) becomes dotted columns; scalars and lists stay one column."""
    assert [c.path for c in columns_of(Row)] == [
        "id",
        "place.id",
        "place.name",
        "amount_minor",
        "share",
        "is_open",
        "at",
        "tags",
    ]
    assert "venue.name" in [c.path for c in columns_of(ReferralRead)]
    assert "venue" not in [c.path for c in columns_of(ReferralRead)]
    assert [c.path for c in columns_of(Row, exclude=["tags", "at"])][-1] == "is_open"


def test_value_at_walks_structs_and_dicts() -> None:
    """Dotted paths reach into Structs and dicts alike; a missing step gives None."""
    row = Row(uuid.UUID(int=1), None, 5, 0.5, True, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), ["a", "b"])
    assert value_at(row, "place.name") is None
    assert value_at({"venue": {"name": "Pushkin"}}, "venue.name") == "Pushkin"
    assert value_at({"venue": None}, "venue.name") is None
    assert value_at(row, "amount_minor") == 5


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, None),
        (12, 12),
        (-3, -3),
        (0.25, 0.25),
        (True, True),
        ("text", "text"),
        (uuid.UUID(int=7), "00000000-0000-0000-0000-000000000007"),
        (
            dt.datetime(2026, 11, 20, 21, 15, tzinfo=dt.timezone(dt.timedelta(hours=3))),
            "2026-11-20T18:15:00Z",
        ),
        (dt.date(2026, 11, 20), "2026-11-20"),
        (["a", 1], "a; 1"),
        (Colour.RED, "red"),
        ({"k": 1}, '{"k":1}'),
    ],
)
def test_plain_cells(value: Any, cell: Any) -> None:
    """Numbers and booleans stay typed; times become RFC 3339 UTC, ids and dates text, lists joined."""
    assert plain(value) == cell


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+2", "'=1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ('+HYPERLINK("http://x")', '\'+HYPERLINK("http://x")'),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("\t=1", "'\t=1"),
        ("+7 916 ***-**-67", "+7 916 ***-**-67"),
        ("-12.5", "-12.5"),
        ("Café «Пушкин», 2", "Café «Пушкин», 2"),
        ("", ""),
    ],
)
def test_csv_formula_guard(text: str, written: str) -> None:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers, masked phones don't."""
    assert csv_text(text) == written


def test_csv_cells_for_none_and_booleans() -> None:
    """None is an empty cell, booleans are true/false, numbers their decimal text."""
    assert [csv_text(None), csv_text(True), csv_text(False), csv_text(-5)] == ["", "true", "false", "-5"]


async def test_csv_comes_in_chunks_with_one_header() -> None:
    """Many rows arrive in several chunks; together they parse back to the header and every row, quoted."""
    rows = [{"n": i, "name": f'say "hi", {i}\nbye'} for i in range(CHUNK_ROWS * 2 + 7)]
    chunks = [chunk async for chunk in csv_chunks(rows, [Column("n"), Column("name", "Name")])]
    assert len(chunks) == 3
    parsed = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert parsed[0] == ["n", "Name"]
    assert parsed[1:] == [[str(r["n"]), r["name"]] for r in rows]


def test_xlsx_of_many_rows_reads_back(tmp_path: Path) -> None:
    """A sheet of 20 000 rows is written in constant-memory mode and reads back typed, row for row."""
    rows = [
        {"n": i, "amount_minor": i * 100 - 5, "label": f"=row {i}", "flag": i % 2 == 0} for i in range(20_000)
    ]
    columns = [Column("n"), Column("amount_minor"), Column("label"), Column("flag")]
    path = str(tmp_path / "big.xlsx")
    write_xlsx(path, rows, columns, "big")
    workbook = openpyxl.load_workbook(path, read_only=True)
    sheet = workbook["big"]
    read = list(sheet.iter_rows(values_only=True))
    workbook.close()
    assert read[0] == ("n", "amount_minor", "label", "flag")
    assert len(read) == 20_001
    # money (a *_minor field) in major units; text stays text, never a formula
    assert read[12_346] == (12_345, 12_344.95, "=row 12345", False)


def test_nested_pages_carry_their_cursor_beside_the_rows() -> None:
    """The cursor of `members.items` is `members.next_cursor`; of `items`, `next_cursor`."""
    assert Table((), "members.items", "x").cursor_path == "members.next_cursor"
    assert Table((), "items", "x").cursor_path == "next_cursor"
    assert Table((), None, "x").cursor_path == "next_cursor"


# ---- every exported route over HTTP ----

ROUTES: dict[str, tuple[str, str, type[msgspec.Struct]]] = {
    # name: (path with {names} from the matrix world, rows, row type)
    "deliveries": ("/v1/deliveries", "items", DeliveryRead),
    "members": ("/v1/programs/{program_a}/members", "items", MemberRead),
    "referrals": ("/v1/referrals", "items", ReferralRead),
    "member visits": ("/v1/members/{member_a}/visits", "items", MemberVisit),
    "venue stats": ("/v1/venues/{venue_1}/stats", "by_day", stats.DayFigures),
    "program stats": ("/v1/programs/{program_a}/stats", "top_venues", stats.VenueRow),
    "summary": ("/v1/programs/{program_a}/summary", "rows", stats.SummaryRow),
    "segments": ("/v1/programs/{program_a}/segments", "members.items", stats.MemberScore),
}


async def _answers(client: httpx.AsyncClient, db: Database, name: str) -> tuple[Obj, list[Column], Any]:
    world, _keys = await build_world(client, db)
    template, rows, row_type = ROUTES[name]
    path = template.format(**{k: v["id"] for k, v in world.items() if isinstance(v, dict) and "id" in v})
    answer = await client.get(path, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return {"path": path, "rows": rows, "json": answer.json()}, columns_of(row_type), world


def _expected(json_body: Obj, rows: str, columns: list[Column]) -> list[list[Any]]:
    return [[plain(value_at(row, c.path)) for c in columns] for row in value_at(json_body, rows) or []]


@pytest.mark.parametrize("name", list(ROUTES))
async def test_csv_of_every_exported_route(client: httpx.AsyncClient, db: Database, name: str) -> None:
    """Accept: text/csv answers the route's rows as CSV: the header row, then each row's cells as in JSON."""
    case, columns, _world = await _answers(client, db, name)
    response = await client.get(case["path"], headers={**ADMIN, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.content.startswith(b"\xef\xbb\xbf"), "a UTF-8 BOM: Excel reads the file as UTF-8"
    parsed = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert parsed[0] == [c.path for c in columns]
    assert parsed[1:] == [
        [csv_text(v) for v in row] for row in _expected(case["json"], case["rows"], columns)
    ]
    if name in ("deliveries", "members", "referrals"):
        assert len(parsed) > 1, "the world has rows here"
    if name == "members":
        full_phone = "+7916"
        assert full_phone not in response.text, "only masked phones leave the hub"


def xlsx_cell(value: Any, path: str, row: Obj) -> Any:
    """What the workbook holds for a JSON value: money in major units, dates and instants (in the row's
    venue's zone) as datetimes, the rest as in CSV."""
    if value is None:
        return None
    if is_money(path) and isinstance(value, int):
        return value / 100
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.datetime.fromisoformat(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", value):
        zone = ZoneInfo(value_at(row, "venue.timezone") or "UTC")
        return dt.datetime.fromisoformat(value).astimezone(zone).replace(tzinfo=None, microsecond=0)
    return plain(value)


@pytest.mark.parametrize("name", list(ROUTES))
async def test_xlsx_of_every_exported_route(
    client: httpx.AsyncClient, app: Litestar, db: Database, name: str
) -> None:
    """?format=xlsx answers the route's tables as a workbook, one sheet each (named for the table),
    numbers in number cells, money in major units, dates in date cells."""
    case, columns, _world = await _answers(client, db, name)
    response = await client.get(case["path"], params={"format": "xlsx"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_MEDIA
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    export = _export_of(app, case["path"])
    assert workbook.sheetnames == [t.name for t in export.tables]
    table = export.table(None)
    assert [c.path for c in table.columns] == [c.path for c in columns]
    rows = list(workbook[table.name].iter_rows())
    assert [c.value for c in rows[0]] == [c.path for c in columns]
    json_rows = value_at(case["json"], case["rows"]) or []
    expected = [[xlsx_cell(value_at(r, c.path), c.path, r) for c in columns] for r in json_rows]
    assert [[_second(c.value) for c in row] for row in rows[1:]] == expected
    for row in rows[1:]:
        for cell in row:
            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                assert cell.data_type == "n"


def _second(value: Any) -> Any:
    """A datetime read back to the second (Excel keeps fractions of a day)."""
    return value.replace(microsecond=0) if isinstance(value, dt.datetime) else value


def _export_of(app: Litestar, path: str) -> Export:
    """The Export spec of the route serving this path."""
    for route in app.routes:
        pattern = re.sub(r"\{[a-z_]+:[a-z]+\}", "[^/]+", route.path)
        if not isinstance(route, HTTPRoute) or not re.fullmatch(pattern, path):
            continue
        for route_handler in route.route_handlers:
            response_class = route_handler.response_class
            if isinstance(response_class, type) and issubclass(response_class, TableResponse):
                return response_class.export
    raise AssertionError(f"no exporting route serves {path}")


async def test_a_page_exports_with_its_next_cursor(client: httpx.AsyncClient, db: Database) -> None:
    """An exported page of a list carries the JSON answer's next_cursor in X-Next-Cursor."""
    world, _keys = await build_world(client, db)
    path = f"/v1/programs/{world['program_a']['id']}/members"
    await client.post(path, json={"card_number": "7700000009999", "phone": "+79160009999"}, headers=ADMIN)
    page = await client.get(path, params={"limit": 1}, headers=ADMIN)
    exported = await client.get(path, params={"limit": 1, "format": "csv"}, headers=ADMIN)
    assert page.json()["next_cursor"]
    assert exported.headers["x-next-cursor"] == page.json()["next_cursor"]
    assert exported.content.count(b"\r\n") == 2


async def test_an_unknown_format_is_422_on_every_exported_route(client: httpx.AsyncClient) -> None:
    """format is one of json, csv, xlsx wherever exports are offered."""
    response = await client.get("/v1/deliveries", params={"format": "ods"}, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")
