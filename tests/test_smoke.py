"""The app starts, serves its probes, and turns away requests without a key."""

from __future__ import annotations

import httpx

from tests import builders
from tests.conftest import ADMIN, error_of


async def test_probes_answer(client: httpx.AsyncClient) -> None:
    """healthz says the process is up, readyz that the database answers."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_no_key_is_unauthenticated(client: httpx.AsyncClient) -> None:
    """Without a key every API route answers 401 in the typed shape."""
    response = await client.get("/v1/programs")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"


async def test_create_and_read_program(client: httpx.AsyncClient) -> None:
    """A program created by the admin reads back with its tiers."""
    program = await builders.program(client)
    response = await client.get(f"/v1/programs/{program['id']}", headers=ADMIN)
    assert response.status_code == 200
    assert [t["code"] for t in response.json()["tiers"]] == ["silver", "gold"]
