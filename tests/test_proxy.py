"""Behind a proxy: X-Forwarded-* believed only from HUB_TRUSTED_PROXIES; Secure cookies, HSTS, no-store."""

from __future__ import annotations

import io
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import msgspec
import pytest

from hub.app import create_app, start, stop
from hub.clock import FrozenClock
from hub.config import ConfigError, Settings, load_settings
from hub.db import Database
from hub.logs import json_handler
from hub.proxy import forwarded_client
from pin.sms.console import ConsoleGateway
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING

PROXY = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7"}


@asynccontextmanager
async def hub_client(
    settings: Settings, db: Database, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The hub with these settings, reached from 127.0.0.1 (httpx's ASGI transport is the peer)."""
    gateway = ConsoleGateway(clock)
    app = create_app(settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    await start(app, settings, database=db, keyring=TEST_KEYRING, clock=clock, gateway=gateway)
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            yield client
    finally:
        await stop(app)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The request log lines of the test, through the production JSON handler."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _clients_logged(stream: io.StringIO) -> list[str]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line["client"] for line in lines if line.get("logger") == "hub.request" and "client" in line]


def _login_cookie(response: httpx.Response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "hub_login_csrf" in v)


async def test_forwarded_headers_are_ignored_by_default(
    settings: Settings, db: Database, clock: FrozenClock, log_lines: io.StringIO
) -> None:
    """Without HUB_TRUSTED_PROXIES a client's X-Forwarded-Proto/-For change nothing: no Secure cookie, the
    peer is logged."""
    async with hub_client(settings, db, clock) as client:
        page = await client.get("/app/login", headers=PROXY)
    assert page.status_code == 200
    assert "secure" not in _login_cookie(page).lower()
    assert _clients_logged(log_lines)[-1] == "127.0.0.1"


async def test_a_trusted_proxy_gives_the_scheme_and_the_client(
    settings: Settings, db: Database, clock: FrozenClock, log_lines: io.StringIO
) -> None:
    """From a trusted proxy, https makes the cookie Secure and the forwarded client is logged; addresses a
    client prepends to X-Forwarded-For are not believed."""
    trusted = msgspec.structs.replace(settings, trusted_proxies=("127.0.0.0/8",))
    async with hub_client(trusted, db, clock) as client:
        page = await client.get("/app/login", headers=PROXY)
        assert "secure" in _login_cookie(page).lower()
        spoofed = {**PROXY, "x-forwarded-for": "198.51.100.1, 203.0.113.9, 127.0.0.2"}
        await client.get("/healthz", headers=spoofed)
    assert _clients_logged(log_lines)[-2:] == ["203.0.113.7", "203.0.113.9"]


@pytest.mark.parametrize(
    ("env", "headers", "expected"),
    [("production", PROXY, True), ("production", {}, False), ("development", PROXY, False)],
)
async def test_hsts_in_production_over_https(
    settings: Settings, db: Database, clock: FrozenClock, env: str, headers: dict[str, str], expected: bool
) -> None:
    """Strict-Transport-Security is sent in production when the original request was HTTPS, only then."""
    configured = msgspec.structs.replace(settings, env=env, trusted_proxies=("127.0.0.1/32",))
    async with hub_client(configured, db, clock) as client:
        answer = await client.get("/healthz", headers=headers)
    assert answer.status_code == 200
    assert ("strict-transport-security" in answer.headers) is expected
    if expected:
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_answers_with_keys_or_secrets_are_not_stored(client: httpx.AsyncClient) -> None:
    """Creating a key, a terminal, a connector and rotating a signing secret answer Cache-Control: no-store,
    and so does an idempotent replay; a plain read does not."""
    program = await builders.program(client, name="Программа Кэш")
    venue = await builders.venue(client, await builders.partner(client, name="Партнёр Кэш"))
    connector = {
        "name": "Кэш CRM",
        "kind": "rest",
        "owner": {"program_id": program["id"]},
        "url": "http://127.0.0.1:9/events",
        "auth": {"type": "none"},
    }
    answers = [
        await client.post("/v1/keys", json={"role": "admin", "name": "Ключ Кэш"}, headers=ADMIN),
        await client.post(f"/v1/venues/{venue['id']}/terminals", json={"name": "Бар"}, headers=ADMIN),
        made := await client.post("/v1/connectors", json=connector, headers=ADMIN),
    ]
    answers.append(
        await client.post(f"/v1/connectors/{made.json()['id']}/signing-secret/rotate", headers=ADMIN)
    )
    replayed = {**ADMIN, "Idempotency-Key": "no-store-1"}
    for _ in range(2):
        answers.append(await client.post("/v1/keys", json={"role": "admin", "name": "Ещё"}, headers=replayed))
    assert answers[-1].headers["idempotent-replayed"] == "true"
    assert [a.status_code for a in answers] == [201, 201, 201, 200, 201, 201]
    assert all(a.headers.get("cache-control") == "no-store" for a in answers)
    assert "no-store" not in (await client.get("/v1/programs", headers=ADMIN)).headers.get(
        "cache-control", ""
    )


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.5", "203.0.113.7"),
        ("10.0.0.6, 10.0.0.5", "10.0.0.6"),
        ("not-an-address, 10.0.0.5", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_forwarded_client_is_the_first_untrusted_hop_from_the_right(
    forwarded_for: str, expected: str
) -> None:
    """Trusted hops (10.0.0.0/8) are skipped from the right; a malformed chain keeps the peer."""
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    assert forwarded_client("10.0.0.1", forwarded_for, trusted) == expected


def test_trusted_proxies_are_cidrs() -> None:
    """HUB_TRUSTED_PROXIES takes CIDRs; anything else stops start-up naming the variable."""
    assert load_settings({"HUB_TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.1"}).trusted_proxies == (
        "10.0.0.0/8",
        "172.16.0.1/32",
    )
    assert load_settings({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="HUB_TRUSTED_PROXIES"):
        load_settings({"HUB_TRUSTED_PROXIES": "прокси"})
