"""Browser sessions for the /app pages: sign-in with an API key, the session cookie, CSRF, and the
middleware that lets the pages' own scripts call the JSON API with that cookie instead of a Bearer key.

The cookie holds only a random token; the database keeps its SHA-256 and the SHA-256 of the API key
(never the key), so revoking the key ends its sessions at once. Unsafe requests made with the cookie
must carry the session's CSRF token in `X-CSRF-Token` (scripts) or a `csrf_token` form field (forms).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import uuid
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.middleware import AuthenticationResult
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import ApiKey, ApiKeyMiddleware, authenticate, hash_key
from hub.clock import Clock
from hub.db import Database
from hub.errors import ForbiddenError, UnauthenticatedError
from hub.scope import Scope
from hub.web.models import WebSession

SESSION_COOKIE = "hub_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = dt.timedelta(hours=12)  # one working day, then sign in again
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKEN_LENGTH = 100


class CsrfError(ForbiddenError):
    code = "csrf_failed"
    default_message = "This request did not come from the hub's own page; reload the page and try again."


class WebUser(msgspec.Struct, frozen=True):
    """Who is signed in: the key's scope, and this session's CSRF token."""

    scope: Scope
    csrf_token: str
    session_id: uuid.UUID


async def sign_in(
    session: AsyncSession, api_key: str, bootstrap_admin_hash: str | None, now: dt.datetime
) -> tuple[str, Scope] | None:
    """A new session for a valid key: (the cookie token, the key's scope), or None for a wrong key."""
    scope = await authenticate(session, api_key, bootstrap_admin_hash)
    if scope is None:
        return None
    await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_key(token),
            key_hash=hash_key(api_key),
            role=scope.role,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    await session.flush()
    return token, scope


async def resolve(
    session: AsyncSession, token: str, bootstrap_admin_hash: str | None, now: dt.datetime
) -> WebUser | None:
    """The signed-in user of a cookie token, or None when the session ended or its key was revoked."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = await session.scalar(
        select(WebSession).where(WebSession.token_hash == hash_key(token), WebSession.expires_at > now)
    )
    if row is None:
        return None
    if bootstrap_admin_hash is not None and hmac.compare_digest(row.key_hash, bootstrap_admin_hash):
        scope = Scope(role="admin")
    else:
        key = await session.scalar(
            select(ApiKey).where(ApiKey.key_hash == row.key_hash, ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return None
        scope = key.to_scope()
    return WebUser(scope=scope, csrf_token=row.csrf_token, session_id=row.id)


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == hash_key(token)))


async def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> WebUser | None:
    token = connection.cookies.get(SESSION_COOKIE)
    if token is None:
        return None
    state = connection.app.state
    database: Database = state.database
    clock: Clock = state.clock
    async with database.reader() as session:
        return await resolve(session, token, state.bootstrap_admin_hash, clock.now())


def is_same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Browsers say where a request came from; a cross-site one is refused even with a token."""
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = connection.headers.get("origin")
    if origin is None:
        return True  # an old browser or a non-browser client: the token alone decides
    return origin == f"{connection.url.scheme}://{connection.headers.get('host', '')}"


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any], user: WebUser, sent: str | None) -> None:
    if sent is None or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise CsrfError()
    if not is_same_origin(connection):
        raise CsrfError("Requests from other sites are refused.")


class KeyOrSessionMiddleware(ApiKeyMiddleware):
    """The API's authentication: a Bearer key as before, or the pages' session cookie plus CSRF header."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if connection.headers.get("authorization") or SESSION_COOKIE not in connection.cookies:
            return await super().authenticate_request(connection)
        user = await current_user(connection)
        if user is None:
            raise UnauthenticatedError("Your session has ended; sign in again at /app/login.")
        if connection.scope.get("method", "GET") not in SAFE_METHODS:
            check_csrf(connection, user, connection.headers.get(CSRF_HEADER))
        return AuthenticationResult(user=user.scope, auth=None)
