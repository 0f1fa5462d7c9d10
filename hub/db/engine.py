"""One async engine per process, configured the same way for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit transactions get in the way)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin_read(conn: Any) -> None:
    # a reader needs no write lock: in WAL mode it sees a consistent snapshot while writers go on
    conn.exec_driver_sql("BEGIN")


def _sqlite_on_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of one
    # failing with "database is locked" when its read transaction tries to become a write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and session factory of this process."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # a PostgreSQL connection can die under the pool (a restart): test it at checkout; a file cannot
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=30)
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # reads go through their own engine on SQLite, so they never queue behind the write lock
        self.read_engine = self.engine
        if self.is_sqlite:
            self.read_engine = create_async_engine(url, **kwargs)
            event.listen(self.read_engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.read_engine.sync_engine, "begin", _sqlite_on_begin_read)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits when the block ends and rolls back if it raises.

        On SQLite the writers of this process queue on an asyncio lock first: SQLite allows one writer
        at a time anyway, and queueing here avoids its busy handler's sleeps (up to 100 ms each), which
        otherwise turn contention into second-long tails.
        """
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self.sessionmaker())
            await stack.enter_async_context(session.begin())
            yield session

    def reader(self) -> AsyncSession:
        """A session for reading only (on SQLite it takes no write lock)."""
        return self.read_sessionmaker()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def create_database(url: str, **kwargs: Any) -> Database:
    return Database(url, **kwargs)
