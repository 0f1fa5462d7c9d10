"""The `coalition-hub` command: serve, migrate, keys, member import, demo data, OpenAPI export."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hub.config import ConfigError, Settings, load_settings

T = TypeVar("T")
console = Console(stderr=True)
OPENAPI_PATH = Path("openapi/hub.json")


def _settings() -> Settings:
    try:
        return load_settings(os.environ)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red] {exc}")
        raise SystemExit(2) from None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from hub.db import Database

    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            return await work(session)
    finally:
        await database.dispose()


@click.group()
def main() -> None:
    """Coalition Hub: recognise a card, verify by SMS PIN, apply the discount, fan out to CRMs."""


# ---- serve ----


@main.command()
@click.option("--migrate/--no-migrate", default=True, help="Run database migrations first.")
def serve(migrate: bool) -> None:
    """Serve the API on HUB_HOST:HUB_PORT."""
    import uvicorn

    from hub.app import create_app
    from hub.bootstrap import configure_logging
    from hub.db.migrate import upgrade

    settings = _settings()
    configure_logging(settings.log_level)
    if migrate:
        upgrade(settings.database_url)
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold green]Coalition Hub[/bold green] on {url}  (docs: {url}/schema)")
    console.print(
        f"  database: {settings.database_url.split('@')[-1]}   SMS: {settings.sms_url.split('@')[-1]}"
    )
    if settings.admin_key:
        console.print("  admin key: the value of HUB_ADMIN_KEY")
    else:
        console.print(
            "  admin key: none set. Create one with [bold].venv/bin/coalition-hub keys create --role admin"
            " --name me[/bold], or set HUB_ADMIN_KEY;"
            " [bold].venv/bin/coalition-hub demo[/bold] loads demo data"
            " and prints keys."
        )
    # uvicorn's loggers go to the root's JSON handler; each request is logged once, by hub.telemetry
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # X-Forwarded-* are read by the hub itself, from HUB_TRUSTED_PROXIES only
    )


# ---- db ----


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from hub.db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    from hub.db.migrate import downgrade

    downgrade(_settings().database_url, revision)


# ---- keys ----


@main.group()
def keys() -> None:
    """API keys."""


def _parse_scope(items: tuple[str, ...]) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use NAME=VALUE, e.g. venue_id=…", param_hint="--scope")
        if name == "program_ids":
            scope[name] = [v for v in value.split(",") if v]
        else:
            scope[name] = value
    return scope


@keys.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "concierge", "partner", "venue", "terminal"])
)
@click.option("--name", default="cli", show_default=True)
@click.option(
    "--scope",
    "scope_items",
    multiple=True,
    help="program_ids=ID,ID | partner_id=ID | venue_id=ID | terminal_id=ID",
)
def keys_create(role: str, name: str, scope_items: tuple[str, ...]) -> None:
    """Create an API key and print it (once)."""
    import msgspec

    from hub.api.keys import KeyCreate, validate_scope
    from hub.auth import create_key

    try:
        data = msgspec.convert({"role": role, "name": name, "scope": _parse_scope(scope_items)}, KeyCreate)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None

    async def work(session: Any) -> str:
        from hub import audit
        from hub.clock import utcnow

        fields = await validate_scope(session, data.role, data.scope)
        row, api_key = await create_key(session, role=data.role, name=data.name, **fields)
        details = {"role": row.role, "prefix": row.key_prefix}
        await audit.record(session, None, "key.create", "api_key", row.id, at=utcnow(), details=details)
        return api_key

    from hub.errors import HubError

    try:
        api_key = _run(_with_session(_settings(), work))
    except HubError as exc:
        console.print(f"[red]{exc.code}[/red] {exc.message}")
        raise SystemExit(1) from None
    click.echo(api_key)
    console.print("[yellow]Shown once: store it now.[/yellow]")


@keys.command("revoke")
@click.argument("key_id", type=click.UUID)
def keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke an API key by id."""
    from hub.auth import ApiKey
    from hub.clock import utcnow

    async def work(session: Any) -> bool:
        row = await session.get(ApiKey, key_id)
        if row is None:
            return False
        if row.revoked_at is None:
            from hub import audit

            row.revoked_at = utcnow()
            details = {"role": row.role, "prefix": row.key_prefix}
            await audit.record(session, None, "key.revoke", "api_key", row.id, at=utcnow(), details=details)
        return True

    if not _run(_with_session(_settings(), work)):
        console.print("[red]no such key[/red]")
        raise SystemExit(1)
    console.print("revoked")


@keys.command("list")
def keys_list() -> None:
    """List API keys (prefixes only)."""
    from sqlalchemy import select

    from hub.auth import ApiKey

    async def work(session: Any) -> list[ApiKey]:
        return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    table = Table("id", "role", "name", "prefix", "created", "revoked")
    for row in _run(_with_session(_settings(), work)):
        table.add_row(
            str(row.id),
            row.role,
            row.name,
            row.key_prefix + "…",
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
        )
    Console().print(table)


# ---- secrets ----


@main.group()
def secrets() -> None:
    """Keys for secrets and personal data at rest."""


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every secret and phone under the newest HUB_SECRET_KEYS key (safe to re-run)."""
    from hub.bootstrap import resolve_keyring
    from hub.db import Database
    from hub.rotation import rotate_all

    settings = _settings()
    keyring = resolve_keyring(settings)

    async def run() -> dict[str, int]:
        database = Database(settings.database_url)
        try:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(label: str, done: int, total: int) -> None:
                    if label not in tasks:
                        tasks[label] = bar.add_task(label, total=total)
                    bar.update(tasks[label], completed=done)

                return await rotate_all(database, keyring, progress)
        finally:
            await database.dispose()

    counts = _run(run())
    table = Table("what", "re-encrypted")
    for label, count in counts.items():
        table.add_row(label, str(count))
    console.print(table)
    console.print("Every value is under the newest key: older keys may now be removed from HUB_SECRET_KEYS.")


@secrets.command("generate")
def secrets_generate() -> None:
    """Print a new key for HUB_SECRET_KEYS (put it first; keep the old ones after it until rotated)."""
    from hub.crypto import generate_secret_key

    click.echo(generate_secret_key())


# ---- dispatch and deliveries ----


@main.command()
@click.option("--concurrency", default=8, show_default=True, help="Attempts in flight per connector.")
@click.option(
    "--lease-seconds", default=60.0, show_default=True, help="How long a claim holds if this process dies."
)
@click.option("--batch-size", default=64, show_default=True, help="Deliveries claimed at a time.")
@click.option(
    "--metrics-port", default=0, show_default=True, help="Serve /metrics on HUB_HOST:PORT (0: not served)."
)
def dispatch(concurrency: int, lease_seconds: float, batch_size: int, metrics_port: int) -> None:
    """Run a dispatcher process: deliver outbox events to connectors until SIGTERM or SIGINT."""
    import signal

    from connectors.outbox.dispatcher import Dispatcher, DispatchSettings
    from connectors.runtime import build_destinations, build_runtime
    from hub.bootstrap import configure_logging, resolve_keyring
    from hub.clock import SystemClock
    from hub.db import Database
    from hub.http import EgressPolicy, create_http_session
    from hub.telemetry import serve_metrics

    settings = _settings()
    configure_logging(settings.log_level)

    async def run() -> None:
        database = Database(settings.database_url)
        http = create_http_session(EgressPolicy.from_settings(settings))
        clock = SystemClock()
        keyring = resolve_keyring(settings)
        dispatcher = Dispatcher(
            database,
            keyring,
            clock,
            build_destinations(build_runtime(database, keyring, clock, http)),
            DispatchSettings(
                per_connector_concurrency=concurrency,
                lease_seconds=lease_seconds,
                batch_size=batch_size,
                attempt_timeout_seconds=min(30.0, lease_seconds * 0.5),
            ),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        console.print(
            f"dispatcher {dispatcher.worker} running; SIGTERM finishes in-flight attempts and stops"
        )
        runner = await serve_metrics(database, clock, settings.host, metrics_port) if metrics_port else None
        try:
            await dispatcher.run(stop)
        finally:
            if runner is not None:
                await runner.cleanup()
            await http.close()
            await database.dispose()

    _run(run())


@main.group()
def deliveries() -> None:
    """The delivery log."""


@deliveries.command("replay")
@click.argument("connector_id", type=click.UUID)
@click.option(
    "--from",
    "since",
    required=True,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="UTC date or time to replay from.",
)
@click.option("--status", type=click.Choice(["dead", "all"]), default="dead", show_default=True)
def deliveries_replay(connector_id: uuid.UUID, since: Any, status: str) -> None:
    """Deliver a connector's dead deliveries again, or every routed event since a time."""
    import datetime as dt

    from connectors import schemas as cs
    from connectors import services as connector_services
    from hub.clock import utcnow
    from hub.scope import ADMIN

    request = cs.ReplayRequest(from_=since.replace(tzinfo=dt.UTC), status=status)  # type: ignore[arg-type]

    async def work(session: Any) -> int:
        with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("replay", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await connector_services.replay(session, ADMIN, connector_id, request, utcnow(), progress)

    from hub.errors import HubError

    try:
        count = _run(_with_session(_settings(), work))
    except HubError as exc:
        console.print(f"[red]{exc.code}[/red] {exc.message}")
        raise SystemExit(1) from None
    console.print(f"{count} deliveries queued again")


# ---- openapi ----


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the chain; name the first changed or deleted entry (exit 1 if there is one)."""
    from hub.audit import verify
    from hub.db import Database

    settings = _settings()

    async def run() -> Any:
        database = Database(settings.database_url)
        try:
            return await verify(database)
        finally:
            await database.dispose()

    result = _run(run())
    if result.problem is not None:
        console.print(
            f"[red]audit chain broken at entry {result.problem.seq}[/red] ({result.problem.kind}):"
            f" {result.problem.message}; {result.checked} entries before it verify"
        )
        raise SystemExit(1)
    console.print(f"[green]audit chain intact[/green]: {result.checked} entries, last {result.last_seq}")


@main.group()
def openapi() -> None:
    """The OpenAPI document."""


def openapi_document() -> str:
    from hub.apidoc import with_error_answers
    from hub.app import create_app

    document = with_error_answers(create_app(Settings()).openapi_schema.to_schema())
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


CRM_EVENTS_PATH = Path("openapi/crm-events.json")


def crm_events_document() -> str:
    from connectors.contract import document

    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@openapi.command("export")
@click.option("--output", type=click.Path(path_type=Path), default=OPENAPI_PATH, show_default=True)
@click.option("--crm-events", type=click.Path(path_type=Path), default=CRM_EVENTS_PATH, show_default=True)
@click.option("--check", is_flag=True, help="Fail if a file differs from what the code generates.")
def openapi_export(output: Path, crm_events: Path, check: bool) -> None:
    """Write the hub's OpenAPI document and the CRM events contract (or check they are current)."""
    documents = ((output, openapi_document()), (crm_events, crm_events_document()))
    if check:
        stale = [str(path) for path, text in documents if not path.exists() or path.read_text() != text]
        if stale:
            console.print(
                f"[red]stale: {', '.join(stale)}[/red]: run `coalition-hub openapi export` and commit."
            )
            raise SystemExit(1)
        console.print(", ".join(str(p) for p, _ in documents) + " are current")
        return
    for path, text in documents:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.print(f"wrote {path}")


# ---- members ----


@main.group()
def members() -> None:
    """Program members."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--program", "program_id", required=True, type=click.UUID)
def members_import(file: Path, program_id: uuid.UUID) -> None:
    """Import members from a CSV file (card_number,phone,name,tier_code), with a progress bar."""
    from hub.errors import HubError

    try:
        report = _run(_import(_settings(), file, program_id))
    except HubError as exc:
        console.print(f"[red]{exc.code}[/red] {exc.message}")
        raise SystemExit(1) from None
    console.print(
        f"created {report.created}, updated {report.updated}, unchanged {report.unchanged},"
        f" rejected {len(report.rejected)}"
    )
    if report.rejected:
        table = Table("line", "code", "message")
        for rejection in report.rejected[:50]:
            table.add_row(str(rejection.line), rejection.code, rejection.message)
        console.print(table)
        if len(report.rejected) > 50:
            console.print(f"… and {len(report.rejected) - 50} more")


async def _import(settings: Settings, file: Path, program_id: uuid.UUID) -> Any:
    from hub.bootstrap import resolve_keyring
    from hub.db import Database
    from hub.errors import InvalidInputError
    from hub.scope import ADMIN
    from partners import members as service

    keyring = resolve_keyring(settings)
    database = Database(settings.database_url)
    tally = service.ImportTally()
    try:
        text = (await asyncio.to_thread(file.read_bytes)).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file}: the CSV must be UTF-8 text.", field="file") from None
    rows = service.parse_csv(text, tally)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("import", total=len(rows))
            for chunk in service.chunked(rows):
                # each chunk commits on its own: a crash loses at most one chunk, and a re-run fixes it
                async with database.transaction() as session:
                    program = await service.load_writable_program(session, ADMIN, program_id)
                    await service.import_chunk(session, keyring, program, chunk, tally)
                progress.advance(task, len(chunk))
    finally:
        await database.dispose()
    return tally.report()


# ---- demo ----


@main.command()
def demo() -> None:
    """Load a small demo coalition and print its keys (safe to run again)."""
    from hub.demo import load_demo

    settings = _settings()
    from hub.db.migrate import upgrade

    upgrade(settings.database_url)
    keys_made = _run(load_demo(settings))
    table = Table("what", "value")
    for label, value in keys_made.items():
        table.add_row(label, value)
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())


# ---- statistics ----

from hub.stats.cli import stats  # noqa: E402  # the group lives with its package

main.add_command(stats)

# ---- retention ----

from hub.retention_cli import erase, retention  # noqa: E402  # beside the retention service

main.add_command(retention)
members.add_command(erase)
