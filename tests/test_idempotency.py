"""Idempotency-Key: a retried write answers the first answer; a reused key with another body is 409."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from hub.db import Database
from partners.models import Partner
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
