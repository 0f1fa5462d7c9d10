"""Re-encrypt every secret and personal datum under the newest key of HUB_SECRET_KEYS.

Rows already under the newest key are skipped, and each batch commits on its own, so a run that
was killed midway is finished by running it again. Blind indexes of phones are recomputed under
the newest key in the same step. Once a run reports nothing left, the old keys may be removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from connectors.models import Connector, ConnectorToken
from connectors.outbox.models import OutboxEvent
from connectors.outbox.writer import personal_aad
from connectors.secrets import auth_aad, signing_aad
from connectors.tokens import token_aad
from hub.crypto import Keyring
from hub.db import Database
from hub.flow.models import IdempotencyRecord
from hub.idempotency import response_aad
from partners.members import phone_aad
from partners.models import Member
from pin.models import PinChallenge
from pin.service import secret_aad

BATCH = 500


@dataclass(frozen=True)
class Column:
    """One encrypted column: its table's key, the column, and how its associated data is built."""

    label: str
    key: InstrumentedAttribute[Any]
    column: InstrumentedAttribute[Any]
    aad: Callable[[Any], str]


COLUMNS = (
    Column("member phones", Member.id, Member.phone_ciphertext, phone_aad),
    Column("PIN secrets", PinChallenge.id, PinChallenge.secret_ciphertext, secret_aad),
    Column("event personal data", OutboxEvent.id, OutboxEvent.personal_ciphertext, personal_aad),
    Column("connector auth secrets", Connector.id, Connector.auth_secret_ciphertext, auth_aad),
    Column("connector signing secrets", Connector.id, Connector.signing_ciphertext, signing_aad),
    Column(
        "access tokens",
        ConnectorToken.connector_id,
        ConnectorToken.access_ciphertext,
        lambda cid: token_aad(cid, "access"),
    ),
    Column(
        "refresh tokens",
        ConnectorToken.connector_id,
        ConnectorToken.refresh_ciphertext,
        lambda cid: token_aad(cid, "refresh"),
    ),
    Column(
        "idempotent answers",
        IdempotencyRecord.id,
        IdempotencyRecord.response_ciphertext,
        response_aad,
    ),
)

Progress = Callable[[str, int, int], None]  # (label, done, total)


async def count_rows(database: Database, column: Column) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).where(column.column.is_not(None))) or 0)


async def rotate_column(database: Database, keyring: Keyring, column: Column, progress: Progress) -> int:
    """Re-encrypt one column in batches; returns how many values were rewritten."""
    total = await count_rows(database, column)
    rewritten, seen, after = 0, 0, None
    while True:
        async with database.transaction() as session:
            query = select(column.key, column.column).where(column.column.is_not(None)).order_by(column.key)
            if after is not None:
                query = query.where(column.key > after)
            rows = (await session.execute(query.limit(BATCH))).all()
            for key, token in rows:
                if keyring.is_current(token):
                    continue
                aad = column.aad(key)
                values: dict[str, Any] = {
                    column.column.key: keyring.encrypt(keyring.decrypt(token, aad.encode()), aad.encode())
                }
                if column.column is Member.phone_ciphertext:
                    values["phone_index"] = keyring.blind_index(keyring.decrypt_str(token, aad))
                await session.execute(update(column.key.class_).where(column.key == key).values(**values))
                rewritten += 1
        if not rows:
            return rewritten
        seen += len(rows)
        after = rows[-1][0]
        progress(column.label, min(seen, total), total)


async def rotate_all(database: Database, keyring: Keyring, progress: Progress) -> dict[str, int]:
    return {column.label: await rotate_column(database, keyring, column, progress) for column in COLUMNS}
