"""Access tokens for connectors: how one is fetched (per auth type), and the cache every process shares."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import ConnectorConfig
from connectors.errors import PermanentError, ReconsentError
from connectors.models import Connector, ConnectorToken
from hub import metrics
from hub.clock import Clock
from hub.crypto import DecryptionError, Keyring
from hub.db import Database

logger = logging.getLogger("connectors.tokens")


@dataclass(frozen=True)
class FetchedToken:
    access_token: str
    expires_in: float | None  # seconds; None = not said (assume short-lived)
    refresh_token: str | None = None  # a rotated refresh token, to persist BEFORE the access token is used

    def __repr__(self) -> str:
        return f"FetchedToken(expires_in={self.expires_in}, rotated={self.refresh_token is not None})"


class TokenFetcher(Protocol):
    async def fetch(
        self, http: aiohttp.ClientSession, connector: ConnectorConfig, refresh_token: str | None
    ) -> FetchedToken:
        """Ask the authorization server (or the vendor's token endpoint) for a new token.

        refresh_token is the current rotating refresh token when the auth type has one. Raise
        connectors.errors: TransientError (retry later), PermanentError (refused), ReconsentError
        (the grant is lost, e.g. the answer to a refresh never arrived).
        """
        ...


MARGIN = dt.timedelta(seconds=60)  # a token this close to its expiry is refreshed before use
ASSUMED_LIFETIME = dt.timedelta(minutes=5)  # when the server does not say expires_in
FORCED_REFRESH_GRACE = dt.timedelta(seconds=5)  # a forced refresh this soon after another one reuses it


def token_aad(connector_id: uuid.UUID, part: str) -> str:
    """Binds a token ciphertext to its connector and to its role (access or refresh)."""
    return f"connector.token:{connector_id}:{part}"


def is_fresh(
    expires_at: dt.datetime | None, refreshed_at: dt.datetime | None, now: dt.datetime, margin: dt.timedelta
) -> bool:
    """Whether a cached token may still be used (the margin is at most half the token's lifetime)."""
    if expires_at is None:
        return False
    if refreshed_at is not None:
        margin = min(margin, (expires_at - refreshed_at) / 2)
    return expires_at - now > margin


def default_fetchers() -> dict[str, TokenFetcher]:
    """A fetcher per auth type; connector kinds with their own token endpoints add theirs."""
    # imported here: connectors.oauth builds on FetchedToken from this module
    from connectors.oauth import ClientCredentialsFetcher, RefreshTokenFetcher, StaticBearerFetcher

    return {
        "bearer": StaticBearerFetcher(),
        "oauth2_client_credentials": ClientCredentialsFetcher(),
        "oauth2_refresh_token": RefreshTokenFetcher(),
    }


class DbTokenSource:
    """Access tokens cached in connector_tokens, refreshed single-flight across processes under a row lock.

    The lock is held while the token endpoint is asked, so two processes that find the token expired
    at once spend a rotating refresh token only once: the second one waits, re-reads and uses what the
    first one committed. A new token (and its rotated refresh token) is committed before it is handed out.
    """

    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        clock: Clock,
        http: aiohttp.ClientSession,
        fetchers: Mapping[str, TokenFetcher],
        *,
        margin: dt.timedelta = MARGIN,
        assumed_lifetime: dt.timedelta = ASSUMED_LIFETIME,
        forced_refresh_grace: dt.timedelta = FORCED_REFRESH_GRACE,
    ) -> None:
        self._database = database
        self._keyring = keyring
        self._clock = clock
        self._http = http
        self._fetchers = dict(fetchers)
        self._margin = margin
        self._assumed_lifetime = assumed_lifetime
        self._forced_refresh_grace = forced_refresh_grace
        # one refresh at a time per connector inside this process; the row lock covers the others
        self._local_locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def token(self, connector: ConnectorConfig, *, force_refresh: bool = False) -> str:
        fetcher = self._fetcher_for(connector)
        if not force_refresh:
            cached = await self._cached(connector.id)
            if cached is not None:
                return cached
        async with self._local_locks.setdefault(connector.id, asyncio.Lock()):
            return await self._refresh(connector, fetcher, force_refresh=force_refresh)

    def _fetcher_for(self, connector: ConnectorConfig) -> TokenFetcher:
        auth_type = connector.auth.get("type")
        fetcher = self._fetchers.get(auth_type) if isinstance(auth_type, str) else None
        if fetcher is None:
            raise PermanentError(f"no token fetcher for auth type {auth_type!r}")
        return fetcher

    async def _cached(self, connector_id: uuid.UUID) -> str | None:
        async with self._database.reader() as session:
            row = await session.get(ConnectorToken, connector_id)
        if row is None or not is_fresh(row.expires_at, row.refreshed_at, self._clock.now(), self._margin):
            return None
        return self._access_of(row)

    async def _refresh(
        self, connector: ConnectorConfig, fetcher: TokenFetcher, *, force_refresh: bool
    ) -> str:
        async with self._database.transaction() as session:
            row = await self._locked_row(session, connector.id)
            now = self._clock.now()
            # another process may have refreshed while this one waited for the lock
            reusable = (
                self._access_of(row) if self._may_reuse(row, now, force_refresh=force_refresh) else None
            )
            if reusable is not None:
                return reusable
            await self._refuse_if_needs_reconsent(session, connector.id)
            try:
                fetched = await fetcher.fetch(self._http, connector, self._refresh_token_of(row, connector))
            except ReconsentError as exc:
                metrics.TOKEN_REFRESHES.labels(result="reconsent").inc()
                await self._mark_needs_reconsent(session, row, str(exc), now)
                lost = exc
            except Exception:
                metrics.TOKEN_REFRESHES.labels(result="failed").inc()
                raise
            else:
                metrics.TOKEN_REFRESHES.labels(result="refreshed").inc()
                self._store(row, fetched, now)
                logger.info(
                    "new access token for %r (refresh token rotated: %s)",
                    connector,
                    bool(fetched.refresh_token),
                )
                return fetched.access_token  # the block commits before the caller gets it
        raise lost  # committed first: the connector's status and the dropped tokens stay

    def _may_reuse(self, row: ConnectorToken, now: dt.datetime, *, force_refresh: bool) -> bool:
        if not force_refresh:
            return is_fresh(row.expires_at, row.refreshed_at, now, self._margin)
        recently = row.refreshed_at is not None and now - row.refreshed_at < self._forced_refresh_grace
        return recently and row.expires_at is not None and row.expires_at > now

    async def _locked_row(self, session: AsyncSession, connector_id: uuid.UUID) -> ConnectorToken:
        insert = sqlite_insert if self._database.is_sqlite else postgresql_insert
        await session.execute(
            insert(ConnectorToken)
            .values(connector_id=connector_id, refresh_count=0)
            .on_conflict_do_nothing(index_elements=["connector_id"])
        )
        # FOR UPDATE on PostgreSQL; on SQLite BEGIN IMMEDIATE already holds the database's write lock
        query = (
            select(ConnectorToken)
            .where(ConnectorToken.connector_id == connector_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one()

    async def _refuse_if_needs_reconsent(self, session: AsyncSession, connector_id: uuid.UUID) -> None:
        status = await session.scalar(select(Connector.status).where(Connector.id == connector_id))
        if status == "needs_reconsent":
            raise ReconsentError("the connector needs to be authorised again")

    async def _mark_needs_reconsent(
        self, session: AsyncSession, row: ConnectorToken, reason: str, now: dt.datetime
    ) -> None:
        logger.error("connector %s needs to be authorised again: %s", row.connector_id, reason)
        await session.execute(
            update(Connector)
            .where(Connector.id == row.connector_id)
            .values(status="needs_reconsent", status_reason=reason[:500], updated_at=now)
        )
        await session.delete(row)  # the tokens it held are spent; a new consent starts from connector.auth

    def _access_of(self, row: ConnectorToken) -> str | None:
        if row.access_ciphertext is None:
            return None
        try:
            return self._keyring.decrypt_str(row.access_ciphertext, token_aad(row.connector_id, "access"))
        except DecryptionError:
            return None  # e.g. made under a retired key: simply fetch a new one

    def _refresh_token_of(self, row: ConnectorToken, connector: ConnectorConfig) -> str | None:
        if row.refresh_ciphertext is None:
            initial = connector.auth.get("refresh_token")
            return initial if isinstance(initial, str) else None
        try:
            return self._keyring.decrypt_str(row.refresh_ciphertext, token_aad(row.connector_id, "refresh"))
        except DecryptionError:
            raise PermanentError("the stored refresh token does not decrypt") from None

    def _store(self, row: ConnectorToken, fetched: FetchedToken, now: dt.datetime) -> None:
        lifetime = (
            dt.timedelta(seconds=fetched.expires_in)
            if fetched.expires_in is not None
            else self._assumed_lifetime
        )
        row.access_ciphertext = self._keyring.encrypt_str(
            fetched.access_token, token_aad(row.connector_id, "access")
        )
        if fetched.refresh_token is not None:
            row.refresh_ciphertext = self._keyring.encrypt_str(
                fetched.refresh_token, token_aad(row.connector_id, "refresh")
            )
        row.expires_at = now + lifetime
        row.refreshed_at = now
        row.refresh_count += 1
