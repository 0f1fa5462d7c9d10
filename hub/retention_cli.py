"""`coalition-hub retention purge` and `coalition-hub members erase`: what the hub keeps, and for how long."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid

import click
from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn
from rich.table import Table

from hub.config import ConfigError, Settings, load_settings

console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings(os.environ)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red] {exc}")
        raise SystemExit(2) from None


@click.group()
def retention() -> None:
    """Purge what the hub keeps only for a while."""


@retention.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    default=None,
    help="Age in days (default: HUB_RETENTION_DAYS).",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1, max=100_000))
def purge(days: int | None, batch_size: int) -> None:
    """Delete PIN challenges, SMS sends and idempotency records older than DAYS, in batches (re-runnable)."""
    from hub.clock import utcnow
    from hub.db import Database
    from hub.retention import PurgeCounts
    from hub.retention import purge as purge_rows

    settings = _settings()
    age = days or settings.retention_days
    before = utcnow() - dt.timedelta(days=age)

    async def run() -> PurgeCounts:
        database = Database(settings.database_url)
        try:
            with Progress(TextColumn("{task.description}: {task.completed} removed"), console=console) as bar:
                tasks: dict[str, TaskID] = {}

                def progress(label: str, done: int) -> None:
                    if label not in tasks:
                        tasks[label] = bar.add_task(label, total=None)
                    bar.update(tasks[label], completed=done)

                return await purge_rows(database, before, batch_size=batch_size, progress=progress)
        finally:
            await database.dispose()

    counts = asyncio.run(run())
    table = Table("what", f"removed (older than {age} days)")
    for label in ("sms_sends", "pin_challenges", "idempotency_records"):
        table.add_row(label.replace("_", " "), str(getattr(counts, label)))
    Console().print(table)


@click.command("erase")
@click.argument("member_id", type=click.UUID, required=False)
@click.option("--program", "program_id", type=click.UUID, help="With --card: find the member by card.")
@click.option("--card", "card_number", help="The member's card number in --program.")
def erase(member_id: uuid.UUID | None, program_id: uuid.UUID | None, card_number: str | None) -> None:
    """Erase a guest's personal data (phone, name, card); visits, receipts and statistics stay."""
    from hub.bootstrap import resolve_keyring
    from hub.clock import utcnow
    from hub.db import Database
    from hub.errors import HubError
    from hub.retention import Erasure, erase_member, find_member

    if (member_id is None) == (program_id is None or card_number is None):
        raise click.UsageError("Give MEMBER_ID, or both --program and --card.")
    settings = _settings()
    keyring = resolve_keyring(settings)

    async def run() -> Erasure:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                target = member_id
                if target is None:
                    target = await find_member(session, program_id or uuid.UUID(int=0), card_number or "")
                return await erase_member(session, keyring, target, utcnow())
        finally:
            await database.dispose()

    try:
        erasure = asyncio.run(run())
    except HubError as exc:
        console.print(f"[red]{exc.code}[/red] {exc.message}")
        raise SystemExit(1) from None
    console.print(
        f"member {erasure.member_id} erased: phone, name and card removed; personal data of"
        f" {erasure.events_scrubbed} events and {erasure.referral_notes_cleared} referral notes deleted;"
        " visits and receipts kept"
    )
