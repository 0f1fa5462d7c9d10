"""schemathesis against the hub's own OpenAPI document, with an admin and a terminal key, on PostgreSQL:
no answer is a 5xx, and every error is the typed {"error": {"code", "message", "details"}}.

A bounded run here (HUB_FUZZ_EXAMPLES examples per operation and key, 10 by default: about 30 s); the
longer run is `HUB_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_schemathesis.py` (see the README).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase

from hub.db import Database
from tests.conftest import ADMIN_KEY
from tests.test_fault_drills import HubProcess
from tests.test_fault_drills import pg as pg  # the emptied PostgreSQL database, a fixture

DOCUMENT = Path(__file__).parent.parent / "openapi" / "hub.json"
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "10"))


@pytest.fixture
async def served(
    pg: Database, postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A hub process on PostgreSQL, a little data, and its admin and terminal keys."""
    hub = HubProcess(postgres_url, tmp_path / "hub.log")
    hub.start()
    try:
        await hub.ready()
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with aiohttp.ClientSession(base_url=hub.url, headers=admin) as http:
            async with http.post("/v1/partners", json={"name": "Fuzz partner"}) as response:
                partner = await response.json()
            venue_body = {
                "partner_id": partner["id"],
                "name": "Fuzz venue",
                "city": "Moscow",
                "district": "Arbat",
                "timezone": "Europe/Moscow",
            }
            async with http.post("/v1/venues", json=venue_body) as response:
                venue = await response.json()
            async with http.post(
                f"/v1/venues/{venue['id']}/terminals", json={"name": "Fuzz till"}
            ) as response:
                terminal = await response.json()
        yield hub.url, {"admin": ADMIN_KEY, "terminal": terminal["api_key"]}
    finally:
        hub.stop()


def _typed(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(body["error"], dict)
        and set(body["error"]) == {"code", "message", "details"}
    )


def _fuzz(operation: Any, base_url: str, key: str, failures: list[str]) -> int:
    calls = 0

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
        response = case.call(base_url=base_url, timeout=30)
        text = response.content[:300].decode("utf-8", "replace")  # exports answer XLSX bytes
        label = f"{case.method} {case.formatted_path} {case.query} → {response.status_code}: {text}"
        if response.status_code >= 500:
            failures.append(label)
        elif response.status_code >= 400:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
            if not _typed(body):
                failures.append("untyped " + label)

    run()
    return calls


async def test_no_5xx_and_every_error_typed(served: tuple[str, dict[str, str]]) -> None:
    """Generated requests to every operation, as admin and as a terminal: no 5xx, every 4xx typed."""
    base_url, keys = served
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # Err: fails here
    assert len(operations) >= 40
    failures: list[str] = []
    calls = 0
    for operation in operations:
        for key in keys.values():
            calls += await asyncio.to_thread(_fuzz, operation, base_url, key, failures)
    assert calls >= len(operations) * 2
    assert failures == [], "\n".join(failures[:30])
