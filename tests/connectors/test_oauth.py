"""Connector tokens against a real authorization server (oidc-provider): fetch, cache, refresh, rotate."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from connectors.base import ConnectorConfig
from connectors.errors import PermanentError, ReconsentError, TransientError
from connectors.models import Connector, ConnectorToken
from connectors.oauth import ClientCredentialsFetcher, RefreshTokenFetcher
from connectors.tokens import DbTokenSource, TokenFetcher, default_fetchers, is_fresh, token_aad
from hub.clock import FrozenClock
from hub.crypto import DecryptionError
from hub.db import Database
from partners.models import Program
from tests.conftest import TEST_KEYRING
from tests.connectors.oauth_server import CC_BASIC, CC_POST, REFRESHING, AuthorizationServer, OAuthClient

_names = itertools.count(1)


# builders -----------------------------------------------------------------------------------------------


def client_credentials_auth(
    server: AuthorizationServer, client: OAuthClient, **fields: Any
) -> dict[str, Any]:
    return {
        "type": "oauth2_client_credentials",
        "token_url": server.token_url,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "scope": client.scope,
        "token_endpoint_auth_method": client.auth_method,
        **fields,
    }


def refresh_auth(server: AuthorizationServer, refresh_token: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "oauth2_refresh_token",
        "token_url": server.token_url,
        "client_id": REFRESHING.client_id,
        "client_secret": REFRESHING.client_secret,
        "refresh_token": refresh_token,
        "token_endpoint_auth_method": REFRESHING.auth_method,
        "extra_params": {"redirect_uri": "http://127.0.0.1/callback"},  # as amoCRM wants it
        **fields,
    }


async def add_connector(db: Database, auth: dict[str, Any]) -> ConnectorConfig:
    """A rest connector owned by a new coalition program, as the hub would have saved it."""
    n = next(_names)
    async with db.transaction() as session:
        program = Program(
            name=f"Token program {n}",
            kind="coalition",
            currency="RUB",
            card_rules=[],
            pin_policy={},
            sms_template="{pin}",
            fees={},
            signing_public_keys=[],
        )
        session.add(program)
        await session.flush()
        row = Connector(
            name=f"CRM {n}",
            kind="rest",
            owner_program_id=program.id,
            url="http://127.0.0.1:9/events",
            auth_type=auth["type"],
            auth_public={},
            signing_ciphertext=b"unused here",
            events=["visit.verified"],
            personal_data="none",
            settings={},
        )
        session.add(row)
    return ConnectorConfig(
        id=row.id, name=row.name, kind="rest", url=row.url, auth=auth, settings={}, personal_data="none"
    )


def token_source(
    db: Database,
    clock: FrozenClock,
    http: aiohttp.ClientSession,
    fetchers: Mapping[str, TokenFetcher] | None = None,
) -> DbTokenSource:
    return DbTokenSource(
        db, TEST_KEYRING, clock, http, fetchers if fetchers is not None else default_fetchers()
    )


async def stored_token(db: Database, connector: ConnectorConfig) -> ConnectorToken | None:
    async with db.sessionmaker() as session:
        return await session.get(ConnectorToken, connector.id)


async def stored_connector(db: Database, connector: ConnectorConfig) -> Connector:
    async with db.sessionmaker() as session:
        row = await session.get(Connector, connector.id)
    assert row is not None
    return row


def stored_refresh_token(row: ConnectorToken) -> str:
    assert row.refresh_ciphertext is not None
    return TEST_KEYRING.decrypt_str(row.refresh_ciphertext, token_aad(row.connector_id, "refresh"))


# a token endpoint in front of the real one that misbehaves on purpose ---------------------------------------


class TokenProxy:
    """aiohttp.web on loopback: forwards to the real token endpoint, then stalls, strips or redirects."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        # forward | stall (the answer comes back only on release()) | strip_expires_in | redirect
        self.mode = "forward"
        self.port = 0
        self.received = 0
        self._arrived = asyncio.Event()
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/token", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    def release(self) -> None:
        """Stalled answers go out now, and later ones are not held."""
        self._released.set()

    async def wait_for_request(self, count: int = 1) -> None:
        async with asyncio.timeout(5):
            while self.received < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received += 1
        self._arrived.set()
        if self.mode == "redirect":
            raise web.HTTPTemporaryRedirect(self.upstream)
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization", "content-type"}}
        async with self._http.post(self.upstream, data=await request.read(), headers=headers) as upstream:
            status, body = upstream.status, await upstream.read()
        if self.mode == "stall":
            await self._released.wait()  # the server has answered (and rotated); the hub has not heard it yet
        if self.mode == "strip_expires_in" and status == 200:
            answer = json.loads(body)
            answer.pop("expires_in", None)
            body = json.dumps(answer).encode()
        return web.Response(body=body, status=status, content_type="application/json")


@pytest.fixture
async def token_proxy(oauth_server: AuthorizationServer) -> AsyncIterator[TokenProxy]:
    proxy = TokenProxy(oauth_server.token_url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.asynccontextmanager
async def another_process(db: Database) -> AsyncIterator[Database]:
    """A second engine on the same database, as a second dispatcher process would have."""
    other = Database(db.url)
    try:
        yield other
    finally:
        await other.dispose()


async def lock_waiter(db: Database) -> None:
    """Return once some session of this database waits for a lock."""
    if db.is_sqlite:
        # SQLite's waiter sits in busy_timeout inside the driver, where no query can see it
        await asyncio.sleep(0.2)
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with asyncio.timeout(5):
        while True:
            async with db.engine.connect() as conn:
                if await conn.scalar(query):
                    return
            await asyncio.sleep(0.01)


# tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_at", "refreshed_at", "fresh"),
    [
        (None, None, False),
        (120, 0, True),  # two minutes left of an hour-long token: outside the 60 s margin
        (60, -3540, False),  # inside the margin
        (20, -10, True),  # a 30 s token: the margin shrinks to half of it
        (10, -20, False),
        (0, -3600, False),
    ],
)
def test_is_fresh(expires_at: int | None, refreshed_at: int | None, fresh: bool) -> None:
    """A cached token is used only while more than the margin (at most half its lifetime) is left."""
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

    def at(seconds: int | None) -> dt.datetime | None:
        return None if seconds is None else now + dt.timedelta(seconds=seconds)

    assert is_fresh(at(expires_at), at(refreshed_at), now, dt.timedelta(seconds=60)) is fresh


@pytest.mark.parametrize("client", [CC_BASIC, CC_POST], ids=lambda c: c.auth_method)
async def test_client_credentials(
    db: Database,
    clock: FrozenClock,
    http: aiohttp.ClientSession,
    oauth_server: AuthorizationServer,
    client: OAuthClient,
) -> None:
    """Client credentials with either client authentication give a token the server introspects as active."""
    connector = await add_connector(db, client_credentials_auth(oauth_server, client))
    mark = len(oauth_server.records)
    token = await token_source(db, clock, http).token(connector)
    [request] = await oauth_server.token_requests(mark)
    assert request["client_auth"] == client.auth_method
    introspection = await oauth_server.introspect(http, token)
    assert introspection["active"] is True
    assert introspection["client_id"] == client.client_id
    assert introspection["scope"] == "events:write"


async def test_cached_token_is_reused_and_encrypted(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """A fresh token is reused by every process without another request, stored encrypted to its row."""
    connector = await add_connector(db, client_credentials_auth(oauth_server, CC_BASIC))
    mark = len(oauth_server.records)
    first = await token_source(db, clock, http).token(connector)
    clock.advance(minutes=50)
    async with another_process(db) as other:
        again = await token_source(other, clock, http).token(connector)
    assert again == first
    assert len(await oauth_server.token_requests(mark)) == 1
    row = await stored_token(db, connector)
    assert row is not None
    assert row.access_ciphertext is not None
    assert first.encode() not in row.access_ciphertext
    with pytest.raises(DecryptionError):
        TEST_KEYRING.decrypt_str(row.access_ciphertext, token_aad(row.connector_id, "refresh"))


async def test_expiring_token_is_refreshed(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """Within a minute of its expiry a token is replaced before use."""
    connector = await add_connector(db, client_credentials_auth(oauth_server, CC_POST))
    tokens = token_source(db, clock, http)
    mark = len(oauth_server.records)
    first = await tokens.token(connector)
    clock.advance(seconds=3600 - 59)
    second = await tokens.token(connector)
    assert second != first
    assert len(await oauth_server.token_requests(mark)) == 2
    assert (await oauth_server.introspect(http, second))["active"] is True


async def test_missing_expires_in_is_assumed_short(
    db: Database,
    clock: FrozenClock,
    http: aiohttp.ClientSession,
    oauth_server: AuthorizationServer,
    token_proxy: TokenProxy,
) -> None:
    """A token answer without expires_in is cached for five minutes only."""
    token_proxy.mode = "strip_expires_in"
    connector = await add_connector(
        db, client_credentials_auth(oauth_server, CC_BASIC, token_url=token_proxy.url)
    )
    await token_source(db, clock, http).token(connector)
    row = await stored_token(db, connector)
    assert row is not None
    assert row.expires_at == clock.now() + dt.timedelta(minutes=5)


async def test_force_refresh_after_401_happens_once(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """A forced refresh gets a new token; a second process forcing a moment later reuses it."""
    connector = await add_connector(db, client_credentials_auth(oauth_server, CC_BASIC))
    mark = len(oauth_server.records)
    first = await token_source(db, clock, http).token(connector)
    clock.advance(seconds=30)
    second = await token_source(db, clock, http).token(connector, force_refresh=True)
    clock.advance(seconds=1)
    async with another_process(db) as other:
        third = await token_source(other, clock, http).token(connector, force_refresh=True)
    assert second != first
    assert third == second
    assert len(await oauth_server.token_requests(mark)) == 2


async def test_rotated_refresh_token_is_persisted_before_use(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """The rotated refresh token is committed with the access token, and the next refresh spends it."""
    initial = await oauth_server.first_refresh_token()
    connector = await add_connector(db, refresh_auth(oauth_server, initial))
    tokens = token_source(db, clock, http)
    access = await tokens.token(connector)
    row = await stored_token(db, connector)
    assert row is not None
    rotated = stored_refresh_token(row)
    assert rotated != initial
    assert (await oauth_server.introspect(http, access))["active"] is True
    clock.advance(hours=2)
    await tokens.token(connector)
    row = await stored_token(db, connector)
    assert row is not None
    assert row.refresh_count == 2
    assert stored_refresh_token(row) not in (initial, rotated)


async def test_rotation_race_spends_the_refresh_token_once(
    db: Database,
    clock: FrozenClock,
    http: aiohttp.ClientSession,
    oauth_server: AuthorizationServer,
    token_proxy: TokenProxy,
) -> None:
    """Two processes finding the token expired at once make one refresh request, and the grant survives."""
    initial = await oauth_server.first_refresh_token()
    connector = await add_connector(db, refresh_auth(oauth_server, initial, token_url=token_proxy.url))
    async with another_process(db) as other:
        here, there = token_source(db, clock, http), token_source(other, clock, http)
        first = await here.token(connector)
        assert await there.token(connector) == first  # both engines connected and warm
        clock.advance(hours=2)
        mark, token_proxy.mode = len(oauth_server.records), "stall"
        ours = asyncio.create_task(here.token(connector))
        await token_proxy.wait_for_request()  # `here` holds the row lock and waits for its answer
        theirs = asyncio.create_task(there.token(connector))
        await lock_waiter(other)  # `there` saw the expired token too and queues for the lock
        token_proxy.release()
        assert await ours == await theirs != first
        assert len(await oauth_server.grants(mark, "refresh_token")) == 1
        clock.advance(hours=2)
        later = await there.token(
            connector
        )  # had both spent the same refresh token, the grant would be revoked
    assert (await oauth_server.introspect(http, later))["active"] is True
    assert oauth_server.events("grant_revoked", mark) == []
    assert (await stored_connector(db, connector)).status == "active"


async def test_reused_refresh_token_needs_reconsent(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """Spending a rotated refresh token again loses the grant: the connector needs reconsent, stops asking."""
    initial = await oauth_server.first_refresh_token()
    connector = await add_connector(db, refresh_auth(oauth_server, initial))
    tokens = token_source(db, clock, http)
    await tokens.token(connector)
    async with db.transaction() as session:  # a stale copy of the row puts the spent token back
        row = await session.get(ConnectorToken, connector.id)
        assert row is not None
        row.refresh_ciphertext = TEST_KEYRING.encrypt_str(initial, token_aad(connector.id, "refresh"))
        row.expires_at = clock.now()
    mark = len(oauth_server.records)
    with pytest.raises(ReconsentError):
        await tokens.token(connector)
    assert oauth_server.events("grant_revoked", mark)
    stored = await stored_connector(db, connector)
    assert stored.status == "needs_reconsent"
    assert stored.status_reason
    assert await stored_token(db, connector) is None
    mark = len(oauth_server.records)
    with pytest.raises(ReconsentError):
        await tokens.token(connector)
    assert await oauth_server.token_requests(mark) == []


async def test_lost_refresh_answer_needs_reconsent(
    db: Database,
    clock: FrozenClock,
    http: aiohttp.ClientSession,
    oauth_server: AuthorizationServer,
    token_proxy: TokenProxy,
) -> None:
    """A refresh whose answer never arrives is not retried: the server may have rotated, so reconsent."""
    initial = await oauth_server.first_refresh_token()
    connector = await add_connector(db, refresh_auth(oauth_server, initial, token_url=token_proxy.url))
    token_proxy.mode = "stall"
    tokens = token_source(db, clock, http, {"oauth2_refresh_token": RefreshTokenFetcher(timeout=0.5)})
    mark = len(oauth_server.records)
    with pytest.raises(ReconsentError, match="never arrived"):
        await tokens.token(connector)
    assert len(await oauth_server.grants(mark, "refresh_token")) == 1  # the server did rotate it
    stored = await stored_connector(db, connector)
    assert stored.status == "needs_reconsent"
    assert "never arrived" in (stored.status_reason or "")


async def test_refresh_on_503_is_transient_and_keeps_the_grant(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """A 503 from the token endpoint is retried later and the refresh token stays usable."""
    connector = await add_connector(db, refresh_auth(oauth_server, await oauth_server.first_refresh_token()))
    tokens = token_source(db, clock, http)
    async with oauth_server.failing(503):
        with pytest.raises(TransientError) as raised:
            await tokens.token(connector)
    assert raised.value.status_code == 503
    assert (await stored_connector(db, connector)).status == "active"
    assert (await oauth_server.introspect(http, await tokens.token(connector)))["active"] is True


async def test_client_credentials_on_503_is_transient(
    http: aiohttp.ClientSession, oauth_server: AuthorizationServer
) -> None:
    """A 503 to a client-credentials request is a TransientError."""
    connector = config_of(client_credentials_auth(oauth_server, CC_POST))
    async with oauth_server.failing(503):
        with pytest.raises(TransientError):
            await ClientCredentialsFetcher().fetch(http, connector, None)


@pytest.mark.parametrize("client", [CC_BASIC, CC_POST], ids=lambda c: c.auth_method)
async def test_wrong_client_secret_is_permanent(
    http: aiohttp.ClientSession, oauth_server: AuthorizationServer, client: OAuthClient
) -> None:
    """A refused client secret is a PermanentError carrying the server's 401."""
    connector = config_of(client_credentials_auth(oauth_server, client, client_secret="not-the-secret"))
    with pytest.raises(PermanentError, match="invalid_client") as raised:
        await ClientCredentialsFetcher().fetch(http, connector, None)
    assert raised.value.status_code == 401


async def test_redirect_is_not_followed(
    http: aiohttp.ClientSession, oauth_server: AuthorizationServer, token_proxy: TokenProxy
) -> None:
    """A token endpoint that redirects is refused without following it (the secret goes nowhere else)."""
    token_proxy.mode = "redirect"
    connector = config_of(client_credentials_auth(oauth_server, CC_BASIC, token_url=token_proxy.url))
    mark = len(oauth_server.records)
    with pytest.raises(PermanentError) as raised:
        await ClientCredentialsFetcher().fetch(http, connector, None)
    assert raised.value.status_code == 307
    assert await oauth_server.token_requests(mark) == []


async def test_static_bearer(db: Database, clock: FrozenClock, http: aiohttp.ClientSession) -> None:
    """A bearer connector's token is used as it was saved."""
    connector = await add_connector(db, {"type": "bearer", "token": "crm-issued-token"})
    assert await token_source(db, clock, http).token(connector) == "crm-issued-token"


async def test_unknown_auth_type_is_permanent(
    db: Database, clock: FrozenClock, http: aiohttp.ClientSession
) -> None:
    """An auth type without a fetcher is a PermanentError, not a crash."""
    connector = await add_connector(db, {"type": "carrier_pigeon"})
    with pytest.raises(PermanentError):
        await token_source(db, clock, http).token(connector)


# helpers --------------------------------------------------------------------------------------------------


def config_of(auth: dict[str, Any]) -> ConnectorConfig:
    """A connector that is never stored (for fetcher-only tests)."""
    return ConnectorConfig(
        id=uuid.uuid4(),
        name="CRM",
        kind="rest",
        url="http://127.0.0.1:9/",
        auth=auth,
        settings={},
        personal_data="none",
    )
