"""Member import speed on SQLite: rows/s of a full CSV import (parse, E.164, encrypt, blind index, upsert),
beside a same-run baseline: inserting the same number of plain rows with one executemany per chunk.

    .venv/bin/python bench/member_import.py [ROWS]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from hub.crypto import Keyring
from hub.db import Database
from hub.db.migrate import upgrade_async
from hub.scope import ADMIN
from partners import members, services
from partners.schemas import ProgramCreate, TierIn


def make_csv(rows: int) -> str:
    lines = ["card_number,phone,name,tier_code"]
    lines += [
        f"77{i:011d},+7916{i % 10_000_000:07d},Guest {i},{'gold' if i % 5 == 0 else 'silver'}"
        for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


async def import_all(
    database: Database, keyring: Keyring, program_id: object, csv_text: str
) -> tuple[float, int]:
    started = time.perf_counter()
    tally = members.ImportTally()
    rows = members.parse_csv(csv_text, tally)
    for chunk in members.chunked(rows):
        async with database.transaction() as session:
            program = await services.load_program(session, ADMIN, program_id)  # type: ignore[arg-type]
            await members.import_chunk(session, keyring, program, chunk, tally)
    return time.perf_counter() - started, tally.created + tally.updated + tally.unchanged


async def baseline(database: Database, rows: int) -> float:
    async with database.transaction() as session:
        await session.execute(
            text("CREATE TABLE plain (id INTEGER PRIMARY KEY, card TEXT, phone TEXT, name TEXT)")
        )
    started = time.perf_counter()
    for start in range(0, rows, members.IMPORT_CHUNK):
        batch = [
            {"card": f"77{i:011d}", "phone": f"+7916{i:07d}", "name": f"Guest {i}"}
            for i in range(start, min(rows, start + members.IMPORT_CHUNK))
        ]
        async with database.transaction() as session:
            await session.execute(
                text("INSERT INTO plain (card, phone, name) VALUES (:card, :phone, :name)"), batch
            )
    return time.perf_counter() - started


async def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        database = Database(url)
        keyring = Keyring((b"b" * 32,))
        async with database.transaction() as session:
            program = await services.create_program(
                session,
                ProgramCreate(
                    name="Bench",
                    kind="coalition",
                    currency="RUB",
                    tiers=[TierIn(code="silver", name="Silver"), TierIn(code="gold", name="Gold")],
                ),
            )
        csv_text = make_csv(rows)
        first, count = await import_all(database, keyring, program.id, csv_text)
        again, _ = await import_all(database, keyring, program.id, csv_text)
        floor = await baseline(database, rows)
        await database.dispose()
    print(f"member import, SQLite, {rows:,} rows")
    print(f"  first import          {first:7.2f} s  {count / first:10,.0f} rows/s")
    print(f"  re-import (unchanged) {again:7.2f} s  {count / again:10,.0f} rows/s")
    print(f"  baseline: plain executemany of the same rows {floor:7.2f} s  {rows / floor:10,.0f} rows/s")
    print(f"  import costs {first / floor:.1f}x the baseline")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
