"""Limits and hygiene: per-key rate limits shared through the database, bounded JSON depth, bounded pages
and date ranges, typed 5xx bodies, and the OpenAPI documents behind an admin key in production."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select

from hub.app import create_app, start, stop
from hub.clock import FrozenClock
from hub.config import Settings
from hub.db import Database
from hub.jsondepth import deeper_than
from hub.ratelimit import RateLimitWindow
from pin.sms.console import ConsoleGateway
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING, bearer, error_of

OPENAPI = json.loads((Path(__file__).parent.parent / "openapi" / "hub.json").read_text())


@pytest.fixture
async def make_client(settings: Settings, db: Database, clock: FrozenClock) -> AsyncIterator[Any]:
    """Clients into apps built with changed settings (each its own app, as separate processes would be)."""
    apps: list[Litestar] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**changes: Any) -> httpx.AsyncClient:
        changed = msgspec.structs.replace(settings, **changes)
        gateway = ConsoleGateway(clock)
        app = create_app(changed, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
        await start(app, changed, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
        apps.append(app)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # an ASGI app
        client = httpx.AsyncClient(transport=transport, base_url="http://hub.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for app in apps:
        await stop(app)


# ---- rate limits ----


async def test_a_key_past_its_limit_gets_429_with_retry_after(make_client: Any, clock: FrozenClock) -> None:
    """The fourth request of a minute with a limit of 3 is a typed 429 with Retry-After; the next minute
    is open again."""
    clock.set(dt.datetime(2026, 11, 20, 12, 0, 15, tzinfo=dt.UTC))
    client = await make_client(rate_limit_per_minute=3)
    for _ in range(3):
        assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 200
    refused = await client.get("/v1/programs", headers=ADMIN)
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "45"
    assert error["details"] == {"retry_after": 45, "limit_per_minute": 3}
    clock.advance(seconds=45)
    assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 200


async def test_two_processes_share_one_count(make_client: Any, db: Database) -> None:
    """Two apps on one database (two API processes) count a key's requests together."""
    first = await make_client(rate_limit_per_minute=4)
    second = await make_client(rate_limit_per_minute=4)
    for client in (first, second, first, second):
        assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 200
    assert (await second.get("/v1/programs", headers=ADMIN)).status_code == 429
    assert (await first.get("/v1/programs", headers=ADMIN)).status_code == 429
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(RateLimitWindow)) == 1


async def test_each_key_has_its_own_count_and_terminals_their_own_limit(make_client: Any) -> None:
    """Another key is not slowed by a busy one; a terminal key gets the terminal limit."""
    client = await make_client(rate_limit_per_minute=3, terminal_rate_limit_per_minute=5)
    venue = await builders.venue(client, await builders.partner(client))
    till = await builders.terminal(client, venue)
    assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 429  # the admin used its 3
    scans = [
        await client.post("/v1/scans", json={"code": "0"}, headers=bearer(till["api_key"])) for _ in range(6)
    ]
    assert [r.status_code == 429 for r in scans] == [False] * 5 + [True]


async def test_old_windows_are_dropped_as_a_key_moves_on(
    make_client: Any, clock: FrozenClock, db: Database
) -> None:
    """A key keeps at most its current and previous minute: the table does not grow with time."""
    client = await make_client(rate_limit_per_minute=100)
    for _ in range(5):
        assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 200
        clock.advance(minutes=1)
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(RateLimitWindow)) == 1


async def test_public_paths_and_a_zero_limit_are_not_counted(make_client: Any, db: Database) -> None:
    """Probes are never limited, and a limit of 0 turns counting off."""
    limited = await make_client(rate_limit_per_minute=1)
    for _ in range(3):
        assert (await limited.get("/healthz")).status_code == 200
    unlimited = await make_client(rate_limit_per_minute=0)
    for _ in range(3):
        assert (await unlimited.get("/v1/programs", headers=ADMIN)).status_code == 200
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(RateLimitWindow)) == 0


# ---- JSON depth ----


def _nested(depth: int) -> str:
    return "[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)


@pytest.mark.parametrize(
    ("text", "limit", "too_deep"),
    [
        ("[]", 1, False),
        ("[[]]", 1, True),
        ('{"a": "[[[[[[[["}', 1, False),  # brackets inside a string do not count
        ('{"a": "\\"[[[["}', 1, False),  # nor after an escaped quote
        ('[{}, {}, [], [], {"b": []}]', 3, False),
        ('[{}, {}, [], [], {"b": [[]]}]', 3, True),
        (_nested(32), 32, False),
        (_nested(33), 32, True),
    ],
)
def test_depth_scanner(text: str, limit: int, too_deep: bool) -> None:
    """deeper_than counts nesting of arrays and objects, not brackets in strings, not siblings."""
    assert deeper_than(text.encode(), limit) is too_deep


async def test_a_body_nested_too_deep_is_a_422_naming_the_body(client: httpx.AsyncClient) -> None:
    """33 levels is refused with json_too_deep before the handler runs; 32 levels reaches the handler."""
    deep = await client.post(
        "/v1/partners", content=_nested(33), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert deep.status_code == 422
    assert error_of(deep)["code"] == "json_too_deep"
    assert error_of(deep)["details"]["field"] == "body"
    fine = await client.post(
        "/v1/partners", content=_nested(32), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert fine.status_code == 422
    assert error_of(fine)["code"] == "validation_failed"  # the handler's own check: not a partner
    idempotent = await client.post(
        "/v1/partners",
        content=_nested(40),
        headers={**ADMIN, "Content-Type": "application/json", "Idempotency-Key": "deep-1"},
    )
    assert error_of(idempotent)["code"] == "json_too_deep"


async def test_a_deep_body_sent_in_chunks_is_refused(client: httpx.AsyncClient) -> None:
    """The depth is checked across the chunks of a streamed body."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"[[[[[[[[[["
        yield b"]" * 1000

    response = await client.post(
        "/v1/partners", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert (response.status_code, error_of(response)["code"]) == (422, "json_too_deep")


# ---- pages and date ranges ----


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in OPENAPI["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _response_schema(operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    schema: dict[str, Any] = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = OPENAPI["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def test_every_paged_route_takes_a_bounded_limit() -> None:
    """Every route answering a page (next_cursor) has a `limit` query parameter of 1 to 500."""
    paged = [
        (method, path, operation)
        for method, path, operation in _operations()
        if "next_cursor" in _response_schema(operation).get("properties", {})
    ]
    assert len(paged) >= 10
    for method, path, operation in paged:
        (limit,) = [p for p in operation.get("parameters", []) if p["name"] == "limit"]
        schema = limit["schema"]
        options = schema.get("oneOf", [schema])
        bounds = [(o.get("minimum"), o.get("maximum")) for o in options if o.get("type") == "integer"]
        assert bounds == [(1, 500)], (method, path, schema)


async def test_a_page_past_500_is_refused(client: httpx.AsyncClient) -> None:
    """limit=501 is a 422 naming the parameter, not a bigger page."""
    response = await client.get("/v1/programs", params={"limit": 501}, headers=ADMIN)
    assert response.status_code == 422
    assert error_of(response)["details"]["field"] == "limit"


def test_every_date_range_is_known() -> None:
    """Each route taking from/to is one whose range checks are pinned down below (a new one must join)."""
    ranged = {
        (method, path)
        for method, path, operation in _operations()
        if {"from", "to"} <= {p["name"] for p in operation.get("parameters", [])}
    }
    assert ranged <= RANGED_ROUTES, ranged - RANGED_ROUTES


RANGED_ROUTES = {
    ("GET", "/v1/referrals"),
    ("GET", "/v1/venues/{venue_id}/stats"),
    ("GET", "/v1/programs/{program_id}/stats"),
    ("GET", "/v1/programs/{program_id}/summary"),
    ("GET", "/v1/audit"),  # the audit log's own tests pin its range
}


async def test_date_ranges_are_bounded(client: httpx.AsyncClient) -> None:
    """from after to, a span past a year and a time without offset are each a 422 naming the field."""
    venue = await builders.venue(client, await builders.partner(client))
    program = await builders.program(client)
    cases = [
        ("/v1/referrals", {"from": "2026-11-20T00:00:00Z", "to": "2026-11-19T00:00:00Z"}, "from"),
        ("/v1/referrals", {"from": "2026-11-20T00:00:00"}, "from"),
        ("/v1/referrals", {"to": "2026-11-20T00:00:00"}, "to"),
        (f"/v1/venues/{venue['id']}/stats", {"from": "2026-11-20", "to": "2026-11-19"}, "from"),
        (f"/v1/venues/{venue['id']}/stats", {"from": "2024-01-01", "to": "2026-11-19"}, "to"),
        (f"/v1/programs/{program['id']}/stats", {"from": "2026-11-20", "to": "2026-11-01"}, "from"),
        (f"/v1/programs/{program['id']}/stats", {"from": "2020-01-01", "to": "2026-11-01"}, "to"),
        (f"/v1/programs/{program['id']}/summary", {"from": "2026-11-20", "to": "2026-11-01"}, "from"),
        (f"/v1/programs/{program['id']}/summary", {"from": "2020-01-01", "to": "2026-11-01"}, "to"),
    ]
    for path, params, field in cases:
        response = await client.get(path, params=params, headers=ADMIN)
        assert response.status_code == 422, (path, params, response.text)
        assert error_of(response)["details"]["field"] == field, (path, params, response.text)


# ---- no stack traces ----


async def test_an_unexpected_error_is_the_typed_500_without_a_trace(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    """A bug in a handler answers the typed internal error; no traceback, file or exception text leaks."""

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret detail at /work/main/hub/flow/service.py line 42")

    app.state.flow.scan = broken  # the seam we own: the flow service on app.state
    venue = await builders.venue(client, await builders.partner(client))
    till = await builders.terminal(client, venue)
    response = await client.post("/v1/scans", json={"code": "7700000000001"}, headers=bearer(till["api_key"]))
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal"
    for leak in ("Traceback", "secret detail", ".py", "RuntimeError"):
        assert leak not in response.text


# ---- the OpenAPI documents in production ----


async def test_the_schema_is_admin_only_in_production(make_client: Any) -> None:
    """With HUB_ENV=production /schema needs an admin key (401 without, 403 for other roles); in
    development it is public."""
    development = await make_client()
    assert (await development.get("/schema/openapi.json")).status_code == 200
    production = await make_client(env="production", secret_keys=(b"k" * 32,))
    anonymous = await production.get("/schema/openapi.json")
    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "unauthenticated")
    venue = await builders.venue(production, await builders.partner(production))
    till = await builders.terminal(production, venue)
    refused = await production.get("/schema/openapi.json", headers=bearer(till["api_key"]))
    assert (refused.status_code, error_of(refused)["code"]) == (403, "forbidden")
    allowed = await production.get("/schema/openapi.json", headers=ADMIN)
    assert allowed.status_code == 200
    assert allowed.json()["info"]["title"] == "Coalition Hub API"
    assert (await production.get("/schema", headers=ADMIN)).status_code == 200


# ---- member import body limit ----


@pytest.mark.parametrize("chunked", [False, True])
async def test_the_member_import_takes_the_configured_body_limit(
    make_client: Any, db: Database, chunked: bool
) -> None:
    """HUB_IMPORT_MAX_BODY_BYTES bounds the CSV: over it is a typed 413 that imports nothing, whether the
    size is declared (Content-Length) or only found while the body streams in; under it imports."""
    client = await make_client(import_max_body_bytes=4096)
    program = await builders.program(client)
    rows = [f"77{n:011d},+7916{n:07d},Guest {n}," for n in range(200)]
    big = ("card_number,phone,name,tier_code\n" + "\n".join(rows) + "\n").encode()
    assert len(big) > 4096

    async def streamed() -> AsyncIterator[bytes]:
        for at in range(0, len(big), 1000):
            yield big[at : at + 1000]

    url = f"/v1/programs/{program['id']}/members/import"
    headers = {**ADMIN, "Content-Type": "text/csv"}
    refused = await client.post(url, content=streamed() if chunked else big, headers=headers)
    assert refused.status_code == 413, refused.text
    assert error_of(refused)["code"] == "payload_too_large"
    assert error_of(refused)["details"] == {"limit_bytes": 4096}
    members = await client.get(f"/v1/programs/{program['id']}/members", headers=ADMIN)
    assert members.json()["items"] == []
    small = ("card_number,phone,name,tier_code\n" + "\n".join(rows[:20]) + "\n").encode()
    accepted = await client.post(url, content=small, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["created"] == 20
