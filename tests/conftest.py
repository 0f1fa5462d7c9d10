"""Fixtures: every database test runs on SQLite and on PostgreSQL, each run in its own fresh database."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text

import hub.models  # noqa: F401  # every table on Base.metadata
from hub.app import create_app, start, stop
from hub.clock import UTC, FrozenClock
from hub.config import Settings
from hub.crypto import Keyring
from hub.db import Base, Database
from hub.db.migrate import upgrade
from pin.sms.console import ConsoleGateway

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
POSTGRES_HINT = (
    "PostgreSQL is unreachable at {url} ({error}). Start it with: "
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(or set HUB_TEST_POSTGRES_URL to a server the tests may create databases on)."
)
TEST_KEYRING = Keyring((b"k" * 32,))
ADMIN_KEY = "hub_adm_test-bootstrap-admin-key-0123456789"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin_execute(base_url: str, sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(base_url), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated, dropped at the end."""
    base = os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"hub_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_admin_execute(base, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(POSTGRES_HINT.format(url=base, error=exc), pytrace=False)
    url = base.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    asyncio.run(_admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'hub.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(scope="session")
async def session_database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def wipe(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as conn:
        if database.is_sqlite:
            for table in tables:
                await conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608  # our own table names
        else:
            await conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))


@pytest.fixture
async def db(session_database: Database) -> AsyncIterator[Database]:
    """The run's database, emptied after each test."""
    yield session_database
    await wipe(session_database)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_key=ADMIN_KEY,
        var_dir=str(tmp_path),
        max_body_bytes=1_048_576,
        egress_allow=("127.0.0.0/8",),  # the test CRMs listen on loopback
        dispatcher="off",  # tests that deliver run a dispatcher of their own, step by step
    )


@pytest.fixture
async def app(settings: Settings, db: Database, clock: FrozenClock) -> AsyncIterator[Litestar]:
    gateway = ConsoleGateway(clock)
    application = create_app(settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    await start(application, settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    yield application
    await stop(application)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP into the app on the test's own event loop (Litestar's test client runs a second loop in a thread,
    which a shared database engine cannot cross)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # an ASGI app; the protocols differ in form
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ADMIN = bearer(ADMIN_KEY)


def error_of(response: Any) -> dict[str, Any]:
    """The typed error body, checked for shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    error: dict[str, Any] = body["error"]
    return error
