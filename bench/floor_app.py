"""The floor for bench/flow.py: a bare Litestar endpoint doing one INSERT + COMMIT on the hub's database.

It uses the hub's engine settings (hub.db.Database: WAL, busy timeout and BEGIN IMMEDIATE on SQLite,
the same pool on PostgreSQL), so the gap to the hub is the hub's own work, not a different driver setup.

    FLOOR_DATABASE_URL=sqlite+aiosqlite:///… .venv/bin/python -m uvicorn bench.floor_app:app --port 8001
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from litestar.datastructures import State
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert

from hub.db import Database

metadata = MetaData()
floor_rows = Table(
    "bench_floor",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("terminal", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """One engine per process, like the hub; the table is made on start."""
    database = Database(os.environ["FLOOR_DATABASE_URL"])
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    app.state.database = database
    try:
        yield
    finally:
        await database.dispose()


@post("/floor", status_code=201)
async def floor(state: State, data: dict[str, int]) -> dict[str, str]:
    """One INSERT and its COMMIT."""
    row_id = str(uuid.uuid4())
    database: Database = state.database
    async with database.transaction() as session:
        await session.execute(insert(floor_rows).values(id=row_id, terminal=data.get("terminal", 0)))
    return {"id": row_id}


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([floor, healthz], lifespan=[lifespan])
