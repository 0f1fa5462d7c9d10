"""RefStore in the database: what destinations created for us, so a retry never writes twice."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.models import ConnectorRef
from hub.db import Database


class DbRefStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, connector_id: uuid.UUID, kind: str, key: str) -> str | None:
        async with self.database.reader() as session:
            value: str | None = await session.scalar(
                select(ConnectorRef.value).where(
                    ConnectorRef.connector_id == connector_id,
                    ConnectorRef.kind == kind,
                    ConnectorRef.key == key,
                )
            )
            return value

    async def put(self, connector_id: uuid.UUID, kind: str, key: str, value: str) -> None:
        try:
            async with self.database.transaction() as session:
                session.add(
                    ConnectorRef(connector_id=connector_id, kind=kind, key=key[:200], value=value[:200])
                )
        except IntegrityError:
            pass  # already remembered (a concurrent retry): the first value stands
