"""Statistics exports people open in Excel: every table on its sheet, money in roubles with the currency
format, real dates (instants in the venue's zone), headers in the asked language, a CSV with a BOM and
one table per request."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl

from hub.api.stats import PROGRAM_EXPORT, SEGMENTS_EXPORT, SUMMARY_EXPORT, VENUE_EXPORT
from hub.concierge.schemas import MemberVisit, ReferralRead
from hub.exports import columns_of
from hub.web.i18n import MESSAGES
from tests.conftest import ADMIN, error_of
from tests.flow.conftest import World
from tests.stats.test_stats import DAY, DISCOUNT, TOTAL, buy, visit_of

Obj = dict[str, Any]
RU = {**ADMIN, "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}


async def venue_export(world: World, headers: dict[str, str], **params: str) -> Any:
    response = await world.client.get(
        f"/v1/venues/{world.venue['id']}/stats", params={"from": DAY, "to": DAY, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def local(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    """A spreadsheet's (zone-less) date and time."""
    return dt.datetime.combine(dt.date(year, month, day), dt.time(hour))


def sheet_rows(workbook: Any, name: str) -> list[dict[str, Any]]:
    """The sheet's rows as {header: cell}."""
    rows = list(workbook[name].iter_rows())
    headers = [c.value for c in rows[0]]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:]]


async def test_venue_stats_workbook_in_russian(world: World) -> None:
    """?format=xlsx with Accept-Language ru: totals, by day, by program and by tier each on a sheet named
    in Russian, Russian headers, the check sum in roubles with the rouble format, the day a date cell."""
    await buy(world, world.member, "ЧЕК-Excel")
    await visit_of(world, world.member)  # awaiting its check
    response = await venue_export(world, RU, format="xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Итого", "По дням", "По программам", "По уровням"]
    (totals,) = sheet_rows(workbook, "Итого")
    assert (totals["Визиты"].value, totals["Визиты без чека"].value, totals["Чеки"].value) == (2, 1, 1)
    check_sum = totals["Сумма чеков"]
    assert (check_sum.value, check_sum.data_type) == (TOTAL / 100, "n")
    assert "₽" in check_sum.number_format
    assert totals["Сумма скидок"].value == DISCOUNT / 100
    assert totals["Начало периода"].is_date
    assert totals["Начало периода"].value == local(2026, 11, 20)
    (day,) = sheet_rows(workbook, "По дням")
    assert (day["Дата"].is_date, day["Дата"].value) == (True, local(2026, 11, 20))
    assert "dd.mm.yyyy" in day["Дата"].number_format
    assert day["Средний чек"].value == TOTAL / 100
    (program,) = sheet_rows(workbook, "По программам")
    assert (program["Программа"].value, program["Валюта"].value) == (world.program["name"], "RUB")
    (tier,) = sheet_rows(workbook, "По уровням")
    assert (tier["Уровень"].value, tier["Код уровня"].value, tier["Уникальные гости"].value) == (
        "Silver",
        "silver",
        1,
    )


async def test_the_workbook_speaks_english_when_asked_and_field_names_without_the_header(
    world: World,
) -> None:
    """Accept-Language en gives English sheets and headers; no Accept-Language, the tables' and fields'
    own names (what scripts read)."""
    await buy(world, world.member, "CHK-en")
    english = openpyxl.load_workbook(
        io.BytesIO((await venue_export(world, {**ADMIN, "Accept-Language": "en-GB"}, format="xlsx")).content)
    )
    assert english.sheetnames == ["Totals", "By day", "By program", "By tier"]
    headers = [c.value for c in next(english["By day"].iter_rows())]
    assert {"Date", "Visits", "Unique guests", "Check sum"} <= set(headers)
    plain = openpyxl.load_workbook(io.BytesIO((await venue_export(world, ADMIN, format="xlsx")).content))
    assert plain.sheetnames == ["totals", "by_day", "by_program", "by_tier"]
    assert {"date", "visits", "check_sum_minor"} <= {c.value for c in next(plain["by_day"].iter_rows())}


async def test_member_visits_times_are_in_the_venues_zone(world: World) -> None:
    """A visit verified at 12:00 UTC is 15:00 in the Moscow venue's workbook, as a date-time cell."""
    await visit_of(world, world.member)
    response = await world.client.get(
        f"/v1/members/{world.member['id']}/visits", params={"format": "xlsx"}, headers=RU
    )
    assert response.status_code == 200, response.text
    (visit,) = sheet_rows(openpyxl.load_workbook(io.BytesIO(response.content)), "Визиты")
    assert visit["Подтверждён"].is_date
    assert visit["Подтверждён"].value == local(2026, 11, 20, 15)


async def test_csv_is_one_table_with_a_bom_and_one_charset(world: World) -> None:
    """CSV starts with a UTF-8 BOM and names one charset; by_day by default, ?table= picks another, the
    Russian headers follow Accept-Language, and an unknown table is 422 naming the parameter."""
    await buy(world, world.member, "ЧЕК-csv")
    by_day = await venue_export(world, ADMIN, format="csv")
    assert by_day.content.startswith("\ufeff".encode())
    assert by_day.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert by_day.headers["content-type"].count("charset") == 1
    rows = list(csv.DictReader(io.StringIO(by_day.content.decode("utf-8-sig"))))
    assert [(r["date"], r["visits"], r["check_sum_minor"]) for r in rows] == [(DAY, "1", str(TOTAL))]
    programs = await venue_export(world, RU, format="csv", table="by_program")
    (program,) = list(csv.DictReader(io.StringIO(programs.content.decode("utf-8-sig"))))
    assert (program["Программа"], program["Визиты"]) == (world.program["name"], "1")
    assert 'filename="venue-stats-by_program.csv"' in programs.headers["content-disposition"]
    totals = await venue_export(world, ADMIN, format="csv", table="totals")
    assert len(list(csv.DictReader(io.StringIO(totals.content.decode("utf-8-sig"))))) == 1
    unknown = await world.client.get(
        f"/v1/venues/{world.venue['id']}/stats", params={"format": "csv", "table": "по_дням"}, headers=ADMIN
    )
    assert (unknown.status_code, error_of(unknown)["code"]) == (422, "validation_failed")
    assert error_of(unknown)["details"]["field"] == "table"


async def test_program_stats_and_summary_workbooks_hold_all_their_tables(world: World) -> None:
    """Program stats: totals, venues, partners, districts; the summary: its rows and its total."""
    await buy(world, world.member, "ЧЕК-сводка")
    base = f"/v1/programs/{world.program['id']}"
    stats = await world.client.get(f"{base}/stats", params={"format": "xlsx"}, headers=RU)
    assert openpyxl.load_workbook(io.BytesIO(stats.content)).sheetnames == [
        "Итого",
        "Заведения",
        "По партнёрам",
        "По районам",
    ]
    summary = await world.client.get(
        f"{base}/summary", params={"format": "xlsx", "from": DAY, "to": DAY, "group_by": "day"}, headers=RU
    )
    workbook = openpyxl.load_workbook(io.BytesIO(summary.content))
    assert workbook.sheetnames == ["Сводка", "Итого"]
    (total,) = sheet_rows(workbook, "Итого")
    assert (total["Сумма покупок"].value, total["Позиций в чеке"].value) == (TOTAL / 100, 3)


def test_every_statistics_column_and_sheet_has_both_languages() -> None:
    """Each column and table the statistics and guest-history exports write has an English and a Russian
    name in the catalogue (a new field cannot slip out untranslated)."""
    exports = [VENUE_EXPORT, PROGRAM_EXPORT, SUMMARY_EXPORT, SEGMENTS_EXPORT]
    tables = [table for export in exports for table in export.export.tables]  # type: ignore[attr-defined]
    missing = {f"sheet.{t.name}" for t in tables} | {f"col.{c.path}" for t in tables for c in t.columns}
    missing |= {f"col.{c.path}" for c in columns_of(MemberVisit)} | {
        f"col.{c.path}" for c in columns_of(ReferralRead)
    }
    assert missing - set(MESSAGES) == set()
