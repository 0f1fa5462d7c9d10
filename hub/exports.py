"""Exports: a list, statistics or settlement answer as CSV (`Accept: text/csv`) or XLSX (`?format=xlsx`).

A route opts in with `response_class=exports.table(columns, rows="items")` and a `format: FormatParam`
parameter; its handler and OpenAPI type stay the JSON ones. When CSV or XLSX is asked for, the rows at
`rows` of the answer (a Struct or dict; `rows=None`: the answer is one row) are written with `columns`:
dotted paths into each row (`venue.name`), so nested objects flatten into columns.

- CSV: UTF-8 without a BOM, a header row, RFC 4180 quoting with CRLF line ends, sent in chunks as rows
  are written. Money stays integer minor units; times are RFC 3339 UTC; lists are joined with "; ".
  A text cell that a spreadsheet would run as a formula (=, @, or +/- followed by more than a number
  or a masked phone) gets a leading apostrophe (OWASP CSV injection).
- XLSX: xlsxwriter in constant-memory mode into a temporary file (in a worker thread), then streamed:
  numbers are number cells, text is always a string cell (never a formula), a bold frozen header row,
  column widths from the content.
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

import anyio.to_thread
import msgspec
import xlsxwriter
from litestar import Request, Response
from litestar.params import QueryParameter
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from hub import audit
from hub.errors import HubError

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


async def csv_chunks(rows: Iterable[Any], columns: Sequence[Column]) -> AsyncIterator[bytes]:
    """The CSV as UTF-8 chunks of CHUNK_ROWS rows, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.title for c in columns])
    for count, cells in enumerate(_cells(rows, columns), start=1):
        writer.writerow([csv_text(v) for v in cells])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(path: str, rows: Iterable[Any], columns: Sequence[Column], sheet: str = "export") -> None:
    """Write the workbook row by row (constant memory): a bold frozen header, typed cells, fitted widths."""
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    workbook = xlsxwriter.Workbook(path, options)
    try:
        worksheet = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        widths = [len(c.title) for c in columns]
        for index, column in enumerate(columns):
            worksheet.write_string(0, index, column.title, bold)
        worksheet.freeze_panes(1, 0)
        for row_index, cells in enumerate(_cells(rows, columns), start=1):
            for index, value in enumerate(cells):
                _write_cell(worksheet, row_index, index, value)
                widths[index] = max(widths[index], len(csv_text(value)))
        for index, width in enumerate(widths):
            worksheet.set_column(index, index, min(width + 2, MAX_WIDTH))
    finally:
        workbook.close()


def _write_cell(worksheet: Any, row: int, col: int, value: str | int | float | bool | None) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        worksheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        worksheet.write_number(row, col, value)
    else:
        worksheet.write_string(row, col, value)


async def xlsx_chunks(rows: Iterable[Any], columns: Sequence[Column], sheet: str) -> AsyncIterator[bytes]:
    """The workbook, written in a worker thread into a temporary file and sent in chunks."""
    handle, path = tempfile.mkstemp(prefix="hub-export-", suffix=".xlsx")
    os.close(handle)
    try:
        await anyio.to_thread.run_sync(write_xlsx, path, rows, columns, sheet)
        async with await anyio.open_file(path, "rb") as file:
            while chunk := await file.read(FILE_CHUNK):
                yield chunk
    finally:
        await anyio.Path(path).unlink(missing_ok=True)


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


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: str | None
    name: str

    @property
    def cursor_path(self) -> str:
        """Where the page's next_cursor is: beside the rows (`members.items` → `members.next_cursor`)."""
        parent = self.rows.rpartition(".")[0] if self.rows else ""
        return f"{parent}.next_cursor" if parent else "next_cursor"

    def rows_of(self, content: Any) -> list[Any]:
        if self.rows is None:
            return [content]
        rows = value_at(content, self.rows)
        return list(rows or [])


class TableResponse(Response[Any]):
    """A JSON answer that turns into CSV or XLSX when the request asks for it."""

    table: ClassVar[Table]

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
        merged = {**(headers or {}), "Vary": "Accept"}
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
        name = self.table.name
        merged["Content-Disposition"] = f'attachment; filename="{name}.{export_format}"'
        next_cursor = value_at(self.content, self.table.cursor_path)
        if isinstance(next_cursor, str):
            merged["X-Next-Cursor"] = next_cursor
        rows = self.table.rows_of(self.content)
        if export_format == "csv":
            iterator, media = (
                csv_chunks(rows, self.table.columns),
                f"{CSV_MEDIA}; charset=utf-8; header=present",
            )
        else:
            iterator, media = xlsx_chunks(rows, self.table.columns, name), XLSX_MEDIA
        iterator = audit.recorded_export(request, name, export_format, len(rows), iterator)
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


def table(
    columns: Sequence[Column | str], *, rows: str | None = "items", name: str = "export"
) -> type[Response[Any]]:
    """The response_class of a route whose answer can be exported: which rows, which columns."""
    spec = Table(
        columns=tuple(c if isinstance(c, Column) else Column(c) for c in columns), rows=rows, name=name
    )
    return type(f"{name.title().replace('-', '')}Table", (TableResponse,), {"table": spec})
