"""IikoTokenFetcher: iikoCloud session tokens for the shared token cache (connectors.tokens).

Two auth types, as iiko's docs define them:
- "iiko_api_login": `POST /api/1/access_token {apiLogin}` (deprecated by iiko, still what most
  venues hold); auth = {type, api_login, organization_id}.
- "iiko_api_key": `POST /api/v2/access_token {apiKey, appId, clientSecret}`, a JWT;
  auth = {type, api_key, app_id, client_secret, organization_id}.
Both answer `{correlationId, token}`, a token valid one hour (a JWT's `exp` says exactly), with
no refresh token: the cache fetches a new one before expiry and once on a 401.
"""

from __future__ import annotations

import base64
import binascii
import json

import aiohttp
import msgspec

from connectors.base import ConnectorConfig
from connectors.errors import PermanentError
from connectors.iiko import wire
from connectors.iiko.client import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    post,
    raise_for_answer,
)
from connectors.tokens import FetchedToken
from hub.clock import Clock, SystemClock

TOKEN_LIFETIME_SECONDS = 3600.0  # "The standard token lifetime is 1 hour."
AUTH_TYPES = ("iiko_api_login", "iiko_api_key")


class IikoTokenFetcher:
    """TokenFetcher for auth types iiko_api_login (/api/1) and iiko_api_key (/api/v2)."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self._clock = clock or SystemClock()
        self._timeout_seconds = timeout_seconds
        self._grace_seconds = grace_seconds

    async def fetch(
        self, http: aiohttp.ClientSession, connector: ConnectorConfig, refresh_token: str | None
    ) -> FetchedToken:
        """Ask iiko for a session token (refresh_token is unused: iiko has none)."""
        path, body = token_request(connector)
        answer = await post(
            http,
            connector.url.rstrip("/") + path,
            body,
            headers={},
            timeout_seconds=self._timeout_seconds,
            grace_seconds=self._grace_seconds,
            is_write=False,  # asking for a token twice is harmless
        )
        if answer.status in (400, 401, 403):
            raise PermanentError(
                f"iiko refused the {connector.auth.get('type')} credentials", status_code=answer.status
            )
        raise_for_answer(answer, is_write=False, now=self._clock.now())
        try:
            token = msgspec.json.decode(answer.body, type=wire.AccessTokenResponse).token
        except msgspec.DecodeError as exc:
            raise PermanentError(f"iiko's token answer does not match its documented shape: {exc}") from exc
        return FetchedToken(access_token=token, expires_in=self._lifetime(token))

    def _lifetime(self, token: str) -> float:
        expires_at = jwt_expiry(token)
        if expires_at is None:
            return TOKEN_LIFETIME_SECONDS
        return max(0.0, expires_at - self._clock.now().timestamp())


def token_request(connector: ConnectorConfig) -> tuple[str, msgspec.Struct]:
    """The token path and body for this connector's auth type."""
    auth = connector.auth
    kind = auth.get("type")
    try:
        if kind == "iiko_api_login":
            return wire.ACCESS_TOKEN_V1, wire.AccessTokenRequest(api_login=str(auth["api_login"]))
        if kind == "iiko_api_key":
            body = wire.AccessTokenV2Request(
                api_key=str(auth["api_key"]),
                app_id=str(auth["app_id"]),
                client_secret=str(auth["client_secret"]),
            )
            return wire.ACCESS_TOKEN_V2, body
    except KeyError as exc:
        raise PermanentError(f"iiko auth {kind!r} lacks {exc.args[0]!r}") from exc
    raise PermanentError(f"iiko connectors take auth type {' or '.join(AUTH_TYPES)}, not {kind!r}")


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT as a Unix time, read without verifying (iiko checks it, we only plan)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
