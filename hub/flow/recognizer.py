"""The process's recognition index, rebuilt when the programs' rules change (see Recognizer.index)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.flow.catalog import CATALOG
from partners.models import Program
from routing.recognition import ProgramRules, RecognitionIndex


def program_rules(
    program_id: uuid.UUID, kind: str, owner: uuid.UUID | None, rules: list[Any]
) -> ProgramRules:
    return ProgramRules(
        program_id=program_id,
        kind=kind,
        owner_partner_id=owner,
        prefixes=tuple(r["value"] for r in rules if r.get("type") == "prefix"),
        patterns=tuple(r["value"] for r in rules if r.get("type") == "pattern"),
        signing_keys=tuple(r["public_key"] for r in rules if r.get("type") == "signed_qr"),
        accepts_phone=any(r.get("type") == "phone" for r in rules),
    )


class Recognizer:
    """Holds the index; a cheap version query (count, newest change) tells when to rebuild it."""

    def __init__(self) -> None:
        self._index = RecognitionIndex(())
        self._version: tuple[int, dt.datetime | None] | None = None
        self._lock = asyncio.Lock()

    async def index(self, session: AsyncSession) -> RecognitionIndex:
        async def version_now() -> tuple[int, dt.datetime | None]:
            row = (await session.execute(select(func.count(Program.id), func.max(Program.updated_at)))).one()
            return int(row[0]), row[1]

        # asked at most every CATALOG_SECONDS, and at once after this process changed a program
        version = await CATALOG.load(("programs_version", id(session.bind)), version_now)
        if version != self._version:
            async with self._lock:
                if version != self._version:
                    rows = await session.execute(
                        select(Program.id, Program.kind, Program.owner_partner_id, Program.card_rules)
                    )
                    self._index = RecognitionIndex(program_rules(*r) for r in rows)
                    self._version = version
        return self._index
