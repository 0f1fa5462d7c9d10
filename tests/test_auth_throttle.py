"""Failed authentication is throttled per client address and per key prefix, for API keys and /app/login."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import select

from hub.app import create_app, start, stop
from hub.audit import AuditEntry
from hub.clock import FrozenClock
from hub.config import Settings
from hub.db import Database
from pin.sms.console import ConsoleGateway
from tests.conftest import ADMIN, TEST_KEYRING, bearer, error_of


@pytest.fixture
async def proxied(settings: Settings, db: Database, clock: FrozenClock) -> AsyncIterator[Litestar]:
    """The hub behind a trusted proxy on 127.0.0.1, so a test can speak for several client addresses."""
    trusted = msgspec.structs.replace(settings, trusted_proxies=("127.0.0.0/8",))
    gateway = ConsoleGateway(clock)
    app = create_app(trusted, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    await start(app, trusted, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    yield app
    await stop(app)


@pytest.fixture
async def hub(proxied: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=proxied)  # type: ignore[arg-type]  # an ASGI app
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


def _from(address: str, key: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": address}
    return {**headers, **bearer(key)} if key else headers


def _wrong_key(prefix: str = "hub_ven_") -> str:
    return prefix + secrets.token_urlsafe(24)


async def _throttled(db: Database) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.throttled")))


async def test_wrong_keys_from_one_address_are_throttled(
    hub: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    """20 wrong keys a minute from one address are 401; the 21st is 429 with Retry-After, audited once however
    many follow; another address and a key already in use are not affected; the next minute is fresh."""
    for _ in range(20):
        assert (await hub.get("/v1/programs", headers=_from("203.0.113.5", _wrong_key()))).status_code == 401
    for _ in range(5):
        refused = await hub.get("/v1/programs", headers=_from("203.0.113.5", _wrong_key()))
        assert refused.status_code == 429
        assert error_of(refused)["details"]["limit"] == "auth_failures"
        assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (
        await hub.get("/v1/programs", headers=_from("203.0.113.5", ADMIN["Authorization"][7:]))
    ).status_code == 200
    assert (await hub.get("/v1/programs", headers=_from("198.51.100.8", _wrong_key()))).status_code == 401
    entries = await _throttled(db)
    assert [(e.actor_role, e.details["by"], e.details["address"]) for e in entries] == [
        ("anonymous", "address", "203.0.113.5")
    ]
    clock.advance(minutes=1)
    assert (await hub.get("/v1/programs", headers=_from("203.0.113.5", _wrong_key()))).status_code == 401


async def test_one_key_prefix_from_many_addresses_is_throttled(hub: httpx.AsyncClient, db: Database) -> None:
    """Guesses of one key's prefix spread over many addresses are counted together: the 21st is 429."""
    prefix = "hub_term_Ab3x"
    for n in range(20):
        answer = await hub.get("/v1/programs", headers=_from(f"192.0.2.{n + 1}", _wrong_key(prefix)))
        assert answer.status_code == 401
    assert (
        await hub.get("/v1/programs", headers=_from("192.0.2.200", _wrong_key(prefix)))
    ).status_code == 429
    assert [e.details.get("key_prefix") for e in await _throttled(db)] == [prefix]


async def _login(hub: httpx.AsyncClient, address: str, key: str) -> httpx.Response:
    page = await hub.get("/app/login", headers={**_from(address), "Accept-Language": "ru"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return await hub.post(
        "/app/login",
        data={"csrf_token": token.group(1), "api_key": key},
        headers={**_from(address), "Accept-Language": "ru"},
    )


async def test_the_login_form_is_throttled_too(hub: httpx.AsyncClient, db: Database) -> None:
    """20 wrong keys on /app/login are 401; the 21st is 429 with Retry-After and says so in Russian."""
    for _ in range(20):
        assert (await _login(hub, "203.0.113.77", _wrong_key("hub_adm_"))).status_code == 401
    refused = await _login(hub, "203.0.113.77", _wrong_key("hub_adm_"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Слишком много неудачных попыток входа" in refused.text
    assert [e.details["via"] for e in await _throttled(db)] == ["login"]
