"""Alembic environment: runs migrations over the hub's own async engine setup."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

import hub.models  # noqa: F401  # registers every table on Base.metadata
from hub.db.base import Base
from hub.db.engine import Database

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    # SQLite changes a table by rebuilding it (batch mode); with foreign keys on, dropping the old table
    # fails while other rows reference it, so they are off while migrating and checked at the end
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    dangling = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if dangling:
        raise RuntimeError(f"the migration left rows referencing nothing: {dangling[:5]}")


async def _run_async(url: str) -> None:
    database = Database(url)
    if database.is_sqlite:
        event.listen(database.engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    asyncio.run(_run_async(str(url)))


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `coalition-hub db upgrade`")
run_migrations_online()
