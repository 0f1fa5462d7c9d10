"""Idempotency-Key: a retried write answers the first answer; a reused key with another body is 409."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from hub.db import Base, Database
from partners.models import Partner
from tests import builders
from tests.conftest import ADMIN, error_of


async def _partners(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count(Partner.id))) or 0)


async def test_same_key_same_body_replays(client: httpx.AsyncClient, db: Database) -> None:
    """The second POST with the key creates nothing and answers exactly the first answer."""
    headers = {**ADMIN, "Idempotency-Key": "create-partner-1"}
    first = await client.post("/v1/partners", json={"name": "Ginza"}, headers=headers)
    second = await client.post("/v1/partners", json={"name": "Ginza"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await _partners(db) == 1


async def test_same_key_other_body_conflicts(client: httpx.AsyncClient, db: Database) -> None:
    """The key with another body is 409 idempotency_conflict and changes nothing."""
    headers = {**ADMIN, "Idempotency-Key": "k-2"}
    assert (await client.post("/v1/partners", json={"name": "A"}, headers=headers)).status_code == 201
    other = await client.post("/v1/partners", json={"name": "B"}, headers=headers)
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_conflict"
    assert await _partners(db) == 1


async def test_concurrent_retries_run_once(client: httpx.AsyncClient, db: Database) -> None:
    """Ten concurrent posts under one key: one creates, the others replay or are told it is in progress."""
    headers = {**ADMIN, "Idempotency-Key": "k-3"}
    answers = await asyncio.gather(
        *(client.post("/v1/partners", json={"name": "Same"}, headers=headers) for _ in range(10))
    )
    assert {a.status_code for a in answers} <= {201, 409}
    assert all(
        a.json()["error"]["code"] == "idempotency_in_progress" for a in answers if a.status_code == 409
    )
    assert await _partners(db) == 1


async def test_errors_are_replayed_too_but_not_server_errors(client: httpx.AsyncClient) -> None:
    """A 4xx answer is kept (the same retry gets the same error); a malformed key is refused."""
    headers = {**ADMIN, "Idempotency-Key": "k-4"}
    first = await client.post("/v1/partners", json={"name": ""}, headers=headers)
    second = await client.post("/v1/partners", json={"name": ""}, headers=headers)
    assert first.status_code == second.status_code == 422
    bad = await client.post(
        "/v1/partners", json={"name": "X"}, headers={**ADMIN, "Idempotency-Key": "has space"}
    )
    assert bad.status_code == 422
    assert error_of(bad)["details"]["field"] == "Idempotency-Key"


async def test_keys_are_per_api_key(client: httpx.AsyncClient, db: Database) -> None:
    """Two API keys may use the same Idempotency-Key without seeing each other's answers."""
    created = await client.post("/v1/keys", json={"role": "admin", "name": "second"}, headers=ADMIN)
    other = {"Authorization": f"Bearer {created.json()['api_key']}", "Idempotency-Key": "shared"}
    one = await client.post(
        "/v1/partners", json={"name": "P1"}, headers={**ADMIN, "Idempotency-Key": "shared"}
    )
    two = await client.post("/v1/partners", json={"name": "P2"}, headers=other)
    assert (one.status_code, two.status_code) == (201, 201)
    assert await _partners(db) == 2


async def _raw_database_text(db: Database) -> str:
    """Everything the database holds, as an attacker with a copy of its files would read it."""
    if db.is_sqlite:
        path = Path(str(db.engine.url.database))
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
    parts: list[str] = []
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = await conn.execute(text(f'SELECT t::text FROM "{table.name}" t'))  # noqa: S608  # our tables
            parts += [row[0] for row in rows]
    return "\n".join(parts)


async def test_answers_with_secrets_are_not_kept_readable(client: httpx.AsyncClient, db: Database) -> None:
    """API keys, terminal keys and whsec_ secrets answered under an Idempotency-Key are not in the database
    in the clear; the replay still answers the same body."""
    program = await builders.program(client, name="Программа Секретов")
    partner = await builders.partner(client, name="Гинза Секрет")
    venue = await builders.venue(client, partner)
    posts = [
        ("/v1/keys", {"role": "venue", "name": "Ключ Кассы", "scope": {"venue_id": venue["id"]}}, "api_key"),
        (f"/v1/venues/{venue['id']}/terminals", {"name": "Бар Секрет"}, "api_key"),
        (
            "/v1/connectors",
            {
                "name": "CRM Секрет",
                "kind": "rest",
                "owner": {"program_id": program["id"]},
                "url": "http://127.0.0.1:9/events",
                "auth": {"type": "none"},
            },
            "signing_secret",
        ),
    ]
    secrets: list[str] = []
    for n, (path, body, field) in enumerate(posts):
        headers = {**ADMIN, "Idempotency-Key": f"секрет-{n}".encode().hex()}
        first = await client.post(path, json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await client.post(path, json=body, headers=headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        secrets.append(first.json()[field])
    assert secrets[2].startswith("whsec_")
    raw = await _raw_database_text(db)
    leaked = [secret[:12] for secret in secrets if secret in raw or secret.split("_")[-1] in raw]
    assert not leaked, leaked
