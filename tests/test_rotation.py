"""`coalition-hub secrets rotate`: everything ends under the newest key; a re-run after a crash finishes."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from connectors.models import Connector
from hub.crypto import Keyring
from hub.db import Database
from hub.rotation import COLUMNS, rotate_all, rotate_column
from partners.members import decrypt_phone
from partners.models import Member
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING

NEW_KEY = b"n" * 32
ROTATED = Keyring((NEW_KEY, *TEST_KEYRING.raw_keys))
ONLY_NEW = Keyring((NEW_KEY,))


def _quiet(label: str, done: int, total: int) -> None:
    del label, done, total


async def _seed(client: httpx.AsyncClient) -> dict[str, object]:
    program = await builders.program(client)
    member = await builders.member(client, program, phone="+79161112233")
    connector = await client.post(
        "/v1/connectors",
        json={
            "name": "CRM",
            "kind": "rest",
            "owner": {"program_id": program["id"]},
            "url": "http://127.0.0.1:9/e",
            "auth": {"type": "bearer", "token": "secret-bearer"},
        },
        headers=ADMIN,
    )
    assert connector.status_code == 201, connector.text
    return {"program": program, "member": member}


async def test_rotation_moves_everything_to_the_newest_key(client: httpx.AsyncClient, db: Database) -> None:
    """After a rotation the old key can go: phones, connector secrets, indexes read with the new key alone."""
    await _seed(client)
    counts = await rotate_all(db, ROTATED, _quiet)
    assert counts["member phones"] == 1
    assert counts["connector auth secrets"] == counts["connector signing secrets"] == 1
    async with db.sessionmaker() as session:
        member = (await session.scalars(select(Member))).one()
        connector = (await session.scalars(select(Connector))).one()
    assert decrypt_phone(ONLY_NEW, member) == "+79161112233"
    assert member.phone_index in ONLY_NEW.blind_indexes("+79161112233")
    assert ONLY_NEW.is_current(connector.signing_ciphertext)
    assert await rotate_all(db, ROTATED, _quiet) == dict.fromkeys(counts, 0)  # nothing left to do


async def test_a_run_killed_midway_is_finished_by_running_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Rotating only the first columns (as if killed) then running again leaves nothing under the old key."""
    await _seed(client)
    await rotate_column(db, ROTATED, COLUMNS[0], _quiet)
    counts = await rotate_all(db, ROTATED, _quiet)
    assert counts["member phones"] == 0  # already done before the "crash"
    assert counts["connector auth secrets"] == 1
    async with db.sessionmaker() as session:
        for column in COLUMNS:
            for token in await session.scalars(select(column.column).where(column.column.is_not(None))):
                assert ONLY_NEW.is_current(token), column.label
