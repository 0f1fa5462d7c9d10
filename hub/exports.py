"""Exports: a list, statistics or settlement answer as CSV (`Accept: text/csv`) or XLSX (`?format=xlsx`).

A route opts in with `response_class=exports.table(columns, rows="items")` (one table) or
`exports.tables(name, Table(...), ...)` (an answer of several: venue stats' totals, by_day, by_program,
by_tier) and a `format: FormatParam` parameter; its handler and OpenAPI type stay the JSON ones. Each
table is the rows at `rows` of the answer (a Struct or dict; `rows=None`: the answer is one row) written
with `columns`: dotted paths into each row (`venue.name`), so nested objects flatten into columns.

- CSV: one table per request, the first unless `?table=` names another (an unknown one is 422
  `validation_failed` naming `table`). UTF-8 with a BOM (so Excel, Russian Excel too, reads it as UTF-8),
  `Content-Type: text/csv; charset=utf-8; header=present`, a header row, RFC 4180 quoting with CRLF line
  ends, sent in chunks as rows are written. Money stays integer minor units; times are RFC 3339 UTC;
  lists are joined with "; ". A text cell that a spreadsheet would run as a formula (=, @, or +/-
  followed by more than a number or a masked phone) gets a leading apostrophe (OWASP CSV injection).
- XLSX: every table on a sheet of its own, written by xlsxwriter in constant-memory mode into a temporary
  file (in a worker thread), then streamed. Money (`*_minor`) is a number in major units with the row's
  (or the answer's) currency as its number format; dates are date cells, instants datetime cells in the
  row's venue time zone (`venue.timezone`, `timezone`, else the answer's, else UTC); other numbers are
  number cells, text is always a string cell (never a formula); a bold frozen header row, column widths
  from the content.
- Headers and sheet names follow `Accept-Language` (ru or en, from hub.web.i18n's catalogue); without
  that header they are the field paths and table names, as scripts expect.
A paginated list exports the page asked for; `X-Next-Cursor` carries next_cursor for the next one.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import os
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import anyio.to_thread
import msgspec
import xlsxwriter
from litestar import Request, Response
from litestar.params import QueryParameter
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from hub import audit
from hub.errors import HubError, InvalidInputError
from hub.web.i18n import MESSAGES, Lang, pick, translate

ExportFormat = Literal["json", "csv", "xlsx"]
FormatParam = Annotated[
    ExportFormat | None,
    QueryParameter(
        name="format",
        description="json (the default), csv or xlsx; `Accept: text/csv` or the XLSX media type works too",
    ),
]
JSON_MEDIA = "application/json"
CSV_MEDIA = "text/csv"
CSV_MEDIA_TYPE = f"{CSV_MEDIA}; charset=utf-8; header=present"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MEDIA_FORMATS: dict[str, ExportFormat] = {JSON_MEDIA: "json", CSV_MEDIA: "csv", XLSX_MEDIA: "xlsx"}
CHUNK_ROWS = 500
FILE_CHUNK = 64 * 1024
MAX_WIDTH = 60
_HARMLESS_SIGNED = re.compile(r"^[+-][0-9 ()*.,+-]*$")  # -12.5, +7 916 ***-**-67


class NotAcceptableError(HubError):
    status_code = 406
    code = "not_acceptable"
    default_message = (
        "This answer comes as application/json, text/csv or XLSX; the Accept header allows none."
    )


@dataclass(frozen=True)
class Column:
    """One exported column: a dotted path into each row, and its header (the path unless given)."""

    path: str
    header: str = ""

    @property
    def title(self) -> str:
        return self.header or self.path

    def title_in(self, lang: Lang | None) -> str:
        """The header in a language (the catalogue's `col.<path>`), or the title without one."""
        if lang is None or self.header:
            return self.title
        key = f"col.{self.path}"
        return translate(lang, key) if key in MESSAGES else self.path


def columns_of(struct_type: type[msgspec.Struct], *, exclude: Iterable[str] = ()) -> list[Column]:
    """Every field of a Struct type as a column, nested Structs (also optional ones) flattened."""
    skip = set(exclude)
    return [Column(path) for path in _paths(msgspec.inspect.type_info(struct_type), "") if path not in skip]


def _paths(info: msgspec.inspect.Type, prefix: str) -> list[str]:
    if isinstance(info, msgspec.inspect.UnionType):
        structs = [t for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        others = [
            t for t in info.types if not isinstance(t, (msgspec.inspect.StructType, msgspec.inspect.NoneType))
        ]
        if len(structs) == 1 and not others:
            info = structs[0]
    if not isinstance(info, msgspec.inspect.StructType):
        return [prefix]
    paths: list[str] = []
    for field in info.fields:
        paths += _paths(field.type, f"{prefix}.{field.encode_name}" if prefix else field.encode_name)
    return paths


def value_at(row: Any, path: str) -> Any:
    """The value at a dotted path in a Struct or dict (None where any step is missing)."""
    for part in path.split("."):
        if row is None:
            return None
        row = row.get(part) if isinstance(row, dict) else getattr(row, part, None)
    return row


def plain(value: Any) -> str | int | float | bool | None:
    """A cell value: numbers and booleans stay typed, everything else becomes text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "; ".join(str(plain(v)) for v in value)
    return msgspec.json.encode(value).decode()


def csv_text(value: str | int | float | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)
    if value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not _HARMLESS_SIGNED.match(value)):
        return "'" + value
    return value


def _cells(rows: Iterable[Any], columns: Sequence[Column]) -> Iterator[list[str | int | float | bool | None]]:
    for row in rows:
        yield [plain(value_at(row, c.path)) for c in columns]


BOM = "\ufeff"


async def csv_chunks(
    rows: Iterable[Any], columns: Sequence[Column], lang: Lang | None = None
) -> AsyncIterator[bytes]:
    """The CSV as UTF-8 chunks of CHUNK_ROWS rows: the BOM and the header first."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.title_in(lang) for c in columns])
    for count, cells in enumerate(_cells(rows, columns), start=1):
        writer.writerow([csv_text(v) for v in cells])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# ---- XLSX ----

ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "KMF", "PYG", "XAF", "XOF"})
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}
# (date, date and time) number formats by language; ISO order without an Accept-Language
DATE_FORMATS: dict[Lang | None, tuple[str, str]] = {
    "ru": ("dd.mm.yyyy", "dd.mm.yyyy hh:mm"),
    "en": ("yyyy-mm-dd", "yyyy-mm-dd hh:mm"),
    None: ("yyyy-mm-dd", "yyyy-mm-dd hh:mm"),
}
_SHEET_NAME_UNSAFE = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Sheet:
    """One table of a workbook: its sheet title, its columns' headers, and the rows to write."""

    title: str
    columns: tuple[Column, ...]
    headers: tuple[str, ...]
    rows: Sequence[Any]


def is_money(path: str) -> bool:
    return path.rpartition(".")[2].endswith("_minor")


def major_units(amount_minor: int | float, currency: str | None) -> int | float:
    """1234567 kopecks → 12345.67 roubles (a currency without minor units stays as it is)."""
    return amount_minor if (currency or "").upper() in ZERO_DECIMAL else amount_minor / 100


def money_format(currency: str | None) -> str:
    """The number format of an amount in major units, showing its currency (Excel's [$sign-locale])."""
    code = (currency or "").upper()
    digits = "#,##0" if code in ZERO_DECIMAL else "#,##0.00"
    if not code:
        return digits
    sign = CURRENCY_SIGNS.get(code, code)
    return f"{digits} [${sign}-419]" if code == "RUB" else f"{digits} [${sign}]"


def zone_of(row: Any, answer: Any) -> ZoneInfo:
    """The time zone an instant of this row is shown in: the row's venue's, the answer's, else UTC."""
    for name in (value_at(row, "venue.timezone"), value_at(row, "timezone"), value_at(answer, "timezone")):
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ValueError, KeyError):
                continue
    return ZoneInfo("UTC")


class _Formats:
    """The workbook's cell formats, each made once."""

    def __init__(self, workbook: Any, lang: Lang | None) -> None:
        self._workbook = workbook
        self._made: dict[str, Any] = {}
        self.date, self.datetime = DATE_FORMATS[lang]
        self.bold = workbook.add_format({"bold": True})

    def number(self, num_format: str) -> Any:
        if num_format not in self._made:
            self._made[num_format] = self._workbook.add_format({"num_format": num_format})
        return self._made[num_format]


def write_workbook(path: str, sheets: Sequence[Sheet], answer: Any = None, lang: Lang | None = None) -> None:
    """Write every sheet row by row (constant memory): a bold frozen header, typed cells, fitted widths."""
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    workbook = xlsxwriter.Workbook(path, options)
    try:
        formats = _Formats(workbook, lang)
        used: set[str] = set()
        for sheet in sheets:
            worksheet = workbook.add_worksheet(_sheet_name(sheet.title, used))
            _write_sheet(worksheet, sheet, answer, formats)
    finally:
        workbook.close()


def write_xlsx(path: str, rows: Iterable[Any], columns: Sequence[Column], sheet: str = "export") -> None:
    """One table on one sheet, headed by its columns' titles."""
    table_columns = tuple(columns)
    headers = tuple(c.title for c in table_columns)
    write_workbook(path, [Sheet(sheet, table_columns, headers, list(rows))])


def _sheet_name(title: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _SHEET_NAME_UNSAFE.sub(" ", title).strip()[:31] or "sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]} {n}"
    used.add(name.lower())
    return name


def _write_sheet(worksheet: Any, sheet: Sheet, answer: Any, formats: _Formats) -> None:
    widths = [len(header) for header in sheet.headers]
    for index, header in enumerate(sheet.headers):
        worksheet.write_string(0, index, header, formats.bold)
    worksheet.freeze_panes(1, 0)
    for row_index, row in enumerate(sheet.rows, start=1):
        for index, column in enumerate(sheet.columns):
            shown = _write_cell(worksheet, row_index, index, column.path, row, answer, formats)
            widths[index] = max(widths[index], shown)
    for index, width in enumerate(widths):
        worksheet.set_column(index, index, min(width + 2, MAX_WIDTH))


def _write_cell(
    worksheet: Any, row_index: int, col: int, path: str, row: Any, answer: Any, formats: _Formats
) -> int:
    """Write one typed cell; how wide it shows."""
    value = value_at(row, path)
    if value is None:
        return 0
    if isinstance(value, bool):
        worksheet.write_boolean(row_index, col, value)
        return 5
    if isinstance(value, (int, float)):
        if not is_money(path):
            worksheet.write_number(row_index, col, value)
            return len(str(value))
        currency = value_at(row, "currency") or value_at(answer, "currency")
        amount = major_units(value, currency)
        worksheet.write_number(row_index, col, amount, formats.number(money_format(currency)))
        return len(f"{amount:,.2f}") + 2
    if isinstance(value, dt.datetime):
        local = value.astimezone(zone_of(row, answer)).replace(tzinfo=None)
        worksheet.write_datetime(row_index, col, local, formats.number(formats.datetime))
        return 16
    if isinstance(value, dt.date):
        worksheet.write_datetime(
            row_index, col, dt.datetime.combine(value, dt.time()), formats.number(formats.date)
        )
        return 10
    text = str(plain(value))
    worksheet.write_string(row_index, col, text)
    return len(text)


async def xlsx_chunks(sheets: Sequence[Sheet], answer: Any, lang: Lang | None) -> AsyncIterator[bytes]:
    """The workbook, written in a worker thread into a temporary file and sent in chunks."""
    handle, path = tempfile.mkstemp(prefix="hub-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await anyio.to_thread.run_sync(write_workbook, path, sheets, answer, lang)
        async with await anyio.open_file(path, "rb") as file:
            while chunk := await file.read(FILE_CHUNK):
                yield chunk
    finally:
        await anyio.Path(path).unlink(missing_ok=True)


# ---- negotiation and the response ----


def negotiate(request: Request[Any, Any, Any]) -> ExportFormat:
    """?format= first, then the Accept header; no Accept (or */*) means JSON."""
    asked = request.query_params.get("format")
    for known in ("json", "csv", "xlsx"):
        if asked == known:
            return known
    if not request.headers.get("accept"):
        return "json"
    best = request.accept.best_match(list(_MEDIA_FORMATS))
    if best is None:
        raise NotAcceptableError(available=list(_MEDIA_FORMATS))
    return _MEDIA_FORMATS[best]


def language(request: Request[Any, Any, Any]) -> Lang | None:
    """The headers' language: Accept-Language's ru or en (as the pages choose), None without the header."""
    header = request.headers.get("accept-language")
    return pick(header, None) if header else None


@dataclass(frozen=True)
class Table:
    """One exportable table of an answer: its columns, where its rows are, and its name (`?table=`)."""

    columns: tuple[Column, ...]
    rows: str | None
    name: str

    @property
    def cursor_path(self) -> str:
        """Where the page's next_cursor is: beside the rows (`members.items` → `members.next_cursor`)."""
        parent = self.rows.rpartition(".")[0] if self.rows else ""
        return f"{parent}.next_cursor" if parent else "next_cursor"

    def rows_of(self, content: Any) -> list[Any]:
        """The rows at `rows` (a list; one object is one row), or the answer itself as one row."""
        if self.rows is None:
            return [content]
        rows = value_at(content, self.rows)
        if rows is None:
            return []
        return list(rows) if isinstance(rows, (list, tuple)) else [rows]

    def title_in(self, lang: Lang | None) -> str:
        return translate(lang, f"sheet.{self.name}") if lang else self.name

    def sheet(self, content: Any, lang: Lang | None) -> Sheet:
        return Sheet(
            self.title_in(lang),
            self.columns,
            tuple(c.title_in(lang) for c in self.columns),
            self.rows_of(content),
        )


@dataclass(frozen=True)
class Export:
    """What a route's answer exports: its tables, in workbook order, and the one CSV gives by default."""

    name: str
    tables: tuple[Table, ...]
    default: str

    def table(self, asked: str | None) -> Table:
        """The table `?table=` names (the default without it); an unknown name is refused."""
        wanted = asked or self.default
        for candidate in self.tables:
            if candidate.name == wanted:
                return candidate
        names = [t.name for t in self.tables]
        raise InvalidInputError(f"table is one of {', '.join(names)}.", field="table", allowed=names)


class TableResponse(Response[Any]):
    """A JSON answer that turns into CSV or XLSX when the request asks for it."""

    export: ClassVar[Export]

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: Any = None,
        cookies: Any = None,
        encoded_headers: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        export_format = negotiate(request)
        chosen = self.export.table(request.query_params.get("table"))
        merged = {**(headers or {}), "Vary": "Accept, Accept-Language"}
        if export_format == "json":
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=merged,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        name = self.export.name
        next_cursor = value_at(self.content, chosen.cursor_path)
        if isinstance(next_cursor, str):
            merged["X-Next-Cursor"] = next_cursor
        iterator, media, rows, filename = self._body(export_format, chosen, language(request))
        merged["Content-Disposition"] = f'attachment; filename="{filename}"'
        merged["Content-Type"] = media  # as it is: Litestar would append a second charset to a text/ type
        iterator = audit.recorded_export(request, name, export_format, rows, iterator)
        return ASGIStreamingResponse(
            iterator=iterator,
            background=self.background or background,
            cookies=[*self.cookies, *(cookies or [])],
            encoded_headers=encoded_headers,
            headers={**merged, **self.headers},
            is_head_response=is_head_response,
            media_type=media,
            status_code=self.status_code or status_code,
        )

    def _body(
        self, export_format: ExportFormat, chosen: Table, lang: Lang | None
    ) -> tuple[AsyncIterator[bytes], str, int, str]:
        """(chunks, media type, rows written, file name) of the CSV table or the whole workbook."""
        name = self.export.name
        if export_format == "csv":
            rows = chosen.rows_of(self.content)
            filename = f"{name}.csv" if len(self.export.tables) == 1 else f"{name}-{chosen.name}.csv"
            return csv_chunks(rows, chosen.columns, lang), CSV_MEDIA_TYPE, len(rows), filename
        sheets = [t.sheet(self.content, lang) for t in self.export.tables]
        count = sum(len(sheet.rows) for sheet in sheets)
        return xlsx_chunks(sheets, self.content, lang), XLSX_MEDIA, count, f"{name}.xlsx"


def _columns(columns: Sequence[Column | str]) -> tuple[Column, ...]:
    return tuple(c if isinstance(c, Column) else Column(c) for c in columns)


def table(
    columns: Sequence[Column | str], *, rows: str | None = "items", name: str = "export"
) -> type[Response[Any]]:
    """The response_class of a route whose answer is one exportable table: which rows, which columns."""
    return tables(name, Table(columns=_columns(columns), rows=rows, name=name))


def tables(name: str, *parts: Table, default: str | None = None) -> type[Response[Any]]:
    """The response_class of a route whose answer holds several tables (each a sheet of the workbook;
    CSV gives `default`, or the first, unless `?table=` names another)."""
    spec = Export(name=name, tables=parts, default=default or parts[0].name)
    return type(f"{name.title().replace('-', '')}Table", (TableResponse,), {"export": spec})


def table_of(
    struct_type: type[msgspec.Struct], rows: str | None, name: str, *, exclude: Iterable[str] = ()
) -> Table:
    """A Table of every field of the Struct its rows are."""
    return Table(columns=tuple(columns_of(struct_type, exclude=exclude)), rows=rows, name=name)
