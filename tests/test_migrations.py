"""Migrations build the schema the models describe, on SQLite and PostgreSQL, and go down and up again."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import hub.models  # noqa: F401  # every table on Base.metadata
from hub.db import Base, Database
from hub.db.migrate import downgrade, upgrade
from tests.conftest import DEFAULT_POSTGRES_URL, _admin_execute


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (not the run's shared one, which other tests use)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    base = os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"hub_migrations_{secrets.token_hex(6)}"
    asyncio.run(_admin_execute(base, f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs: list[Any] = compare_metadata(context, Base.metadata)
    return diffs


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _run(url: str, work: Any) -> Any:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await database.dispose()


def test_upgrade_head_matches_the_models(fresh_url: str) -> None:
    """After `upgrade head`, alembic's autogenerate finds nothing to change against the models."""
    upgrade(fresh_url)
    assert asyncio.run(_run(fresh_url, _differences)) == []
    assert set(Base.metadata.tables) <= asyncio.run(_run(fresh_url, _tables))


def test_downgrade_base_then_upgrade_again(fresh_url: str) -> None:
    """Going down to base leaves only alembic's own table; going up again gives the same schema."""
    upgrade(fresh_url)
    downgrade(fresh_url, "base")
    assert asyncio.run(_run(fresh_url, _tables)) <= {"alembic_version"}
    upgrade(fresh_url)
    assert asyncio.run(_run(fresh_url, _differences)) == []


def test_upgrade_is_idempotent(fresh_url: str) -> None:
    """Running `upgrade head` on a database already at head changes nothing and does not fail."""
    upgrade(fresh_url)
    upgrade(fresh_url)
    assert asyncio.run(_run(fresh_url, _differences)) == []


def test_the_comparison_sees_a_missing_migration(fresh_url: str) -> None:
    """Stopped at the first revision, the comparison reports the tables later revisions add: it can fail."""
    upgrade(fresh_url, "0001")
    added = {diff[1].name for diff in asyncio.run(_run(fresh_url, _differences)) if diff[0] == "add_table"}
    assert added
    assert added <= set(Base.metadata.tables)
    assert "members" not in added
