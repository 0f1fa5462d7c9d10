"""API keys: creation (shown once), SHA-256 storage, revocation, the request authenticator and role guards."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.authfail import Attempt
from hub.clock import Clock, utcnow
from hub.db import Base, Database
from hub.db.base import IdMixin
from hub.db.cache import WatchedCache
from hub.errors import ForbiddenError, UnauthenticatedError, with_article
from hub.proxy import client_address
from hub.scope import Role, Scope

KEY_PREFIXES: dict[Role, str] = {
    "admin": "hub_adm_",
    "concierge": "hub_con_",
    "partner": "hub_ptn_",
    "venue": "hub_ven_",
    "terminal": "hub_term_",
}
KEY_RANDOM_BYTES = 24  # 192 bits
MAX_KEY_LENGTH = 200
KEY_CACHE_SECONDS = 2.0  # how long another API process may still accept a key revoked elsewhere


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(24))
    program_ids: Mapped[list[Any]]
    partner_id: Mapped[uuid.UUID | None]
    venue_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    terminal_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    def to_scope(self) -> Scope:
        return Scope(
            role=self.role,  # type: ignore[arg-type]  # the column only ever holds a Role
            key_id=self.id,
            program_ids=frozenset(uuid.UUID(p) for p in self.program_ids),
            partner_id=self.partner_id,
            venue_id=self.venue_id,
            terminal_id=self.terminal_id,
        )


def key_prefix(api_key: str) -> str:
    """What a key is known by (as api_keys.key_prefix): its role's prefix and 4 characters, else its start."""
    for prefix in KEY_PREFIXES.values():
        if api_key.startswith(prefix):
            return api_key[: len(prefix) + 4]
    return api_key[:12]


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def generate_key(role: Role) -> str:
    return KEY_PREFIXES[role] + secrets.token_urlsafe(KEY_RANDOM_BYTES)


async def create_key(
    session: AsyncSession,
    *,
    role: Role,
    name: str,
    program_ids: list[uuid.UUID] | None = None,
    partner_id: uuid.UUID | None = None,
    venue_id: uuid.UUID | None = None,
    terminal_id: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key's hash; the clear key is returned to be shown once and never again."""
    api_key = generate_key(role)
    row = ApiKey(
        name=name,
        role=role,
        key_hash=hash_key(api_key),
        key_prefix=api_key[: len(KEY_PREFIXES[role]) + 4],
        program_ids=[str(p) for p in program_ids or []],
        partner_id=partner_id,
        venue_id=venue_id,
        terminal_id=terminal_id,
    )
    session.add(row)
    await session.flush()
    return row, api_key


async def authenticate(session: AsyncSession, api_key: str, bootstrap_admin_hash: str | None) -> Scope | None:
    if bootstrap_admin_hash is not None and hmac.compare_digest(hash_key(api_key), bootstrap_admin_hash):
        return Scope(role="admin")
    row = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(api_key), ApiKey.revoked_at.is_(None))
    )
    return row.to_scope() if row is not None else None


async def revoke_keys_of_terminal(session: AsyncSession, terminal_id: uuid.UUID, clock: Clock) -> None:
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.terminal_id == terminal_id, ApiKey.revoked_at.is_(None))
    )
    for row in rows:
        row.revoked_at = clock.now()


# a key revoked through this process is refused at once; another API process refuses it within 2 s
KEY_CACHE = WatchedCache("api_keys", ApiKey, seconds=KEY_CACHE_SECONDS)


async def authenticate_cached(
    database: Database, api_key: str, bootstrap_admin_hash: str | None
) -> Scope | None:
    """authenticate() through this process's key cache."""
    key_hash = hash_key(api_key)
    if bootstrap_admin_hash is not None and hmac.compare_digest(key_hash, bootstrap_admin_hash):
        return Scope(role="admin")
    cache_key = (id(database), key_hash)
    found, cached = KEY_CACHE.lookup(cache_key)
    if found:
        return cached  # type: ignore[no-any-return]  # only Scopes are stored under these keys
    generation = KEY_CACHE.generation
    async with database.reader() as session:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    if row is None:
        return None  # unknown keys are not cached: a key created a moment ago works at once
    scope = row.to_scope()
    KEY_CACHE.store(cache_key, scope, generation)
    return scope


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_KEY_LENGTH:
        return None
    return token


def is_known_here(database: Database, api_key: str, bootstrap_admin_hash: str | None) -> bool:
    """Whether this process knows the key as valid without asking the database."""
    key_hash = hash_key(api_key)
    if bootstrap_admin_hash is not None and hmac.compare_digest(key_hash, bootstrap_admin_hash):
        return True
    found, cached = KEY_CACHE.lookup((id(database), key_hash))
    return found and cached is not None


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Resolves `Authorization: Bearer <key>` to a Scope on `request.user`; no key, no entry.

    Failed attempts are counted per client address and key prefix (hub.authfail): past the limit
    they are 429, and a throttled address or prefix is refused before its key is looked up."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        token = bearer_token(header)
        state = connection.app.state
        if token is None:
            if header:  # a malformed key counts as a failure of its sender
                await self._failed(connection, header.partition(" ")[2].strip())
            raise UnauthenticatedError()
        if not is_known_here(state.database, token, state.bootstrap_admin_hash):
            state.auth_failures.check(self._attempt(connection, token), state.clock.now())
        scope = await authenticate_cached(state.database, token, state.bootstrap_admin_hash)
        if scope is None:
            await self._failed(connection, token)
            raise UnauthenticatedError("This API key is unknown or revoked.")
        return AuthenticationResult(user=scope, auth=token)

    @staticmethod
    def _attempt(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> Attempt:
        return Attempt(address=client_address(connection.scope), prefix=key_prefix(token), via="api")

    async def _failed(self, connection: ASGIConnection[Any, Any, Any, Any], token: str) -> None:
        state = connection.app.state
        await state.auth_failures.failed(state.database, self._attempt(connection, token), state.clock.now())


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]


def allow(*roles: Role) -> Guard:
    """A route guard admitting only these roles; tenant scope is then checked by the service."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        scope: Scope = connection.user
        if scope.role not in roles:
            needs = ", ".join(roles)
            raise ForbiddenError(
                f"{with_article(scope.role).capitalize()} key may not do this; it needs one of: {needs}."
            )

    guard.roles = roles  # type: ignore[attr-defined]  # read by the authorization-matrix test
    return guard
