"""`coalition-hub stats rebuild`: recompute the daily rollups from the visits and receipts (idempotent)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import delete

from hub.config import ConfigError, load_settings
from hub.db import Database
from hub.stats import rollups
from hub.stats.models import StatsDaily, StatsDailyGuest

console = Console(stderr=True)


async def rebuild(
    database: Database, since: dt.date | None, on_month: Callable[[int, int], None] | None = None
) -> int:
    """Replace the rollups from `since` (or all of them) month by month, each month in one transaction;
    on_month(done, total) reports progress. Returns the visits counted."""
    async with database.sessionmaker() as session:
        span = await rollups.visit_span(session)
    if span is None:
        async with database.transaction() as session:
            for table in (StatsDaily, StatsDailyGuest):
                await session.execute(delete(table).where(table.local_date >= (since or dt.date.min)))
        return 0
    months = rollups.rebuild_ranges(since, span)
    counted = 0
    async with database.transaction() as session:  # rows past the last visit (none should exist)
        for table in (StatsDaily, StatsDailyGuest):
            await session.execute(delete(table).where(table.local_date >= months[-1][1]))
            if since is None:
                await session.execute(delete(table).where(table.local_date < months[0][0]))
    for done, (start, end) in enumerate(months, 1):
        async with database.transaction() as session:
            counted += await rollups.rebuild_range(session, start, end, since)
        if on_month is not None:
            on_month(done, len(months))
    return counted


@click.group()
def stats() -> None:
    """Statistics rollups."""


@stats.command("rebuild")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First local date.")
def stats_rebuild(since: dt.datetime | None) -> None:
    """Recompute the daily rollups from the visits and receipts (from a date, or all); safe to run again."""
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red] {exc}")
        raise SystemExit(2) from None

    async def run() -> int:
        database = Database(settings.database_url)
        columns = (TextColumn("months"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        try:
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("rebuild", total=None)
                return await rebuild(
                    database,
                    since.date() if since else None,
                    lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await database.dispose()

    counted = asyncio.run(run())
    console.print(f"rebuilt the rollups from {counted} visits")
