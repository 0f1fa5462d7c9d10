"""Token fetchers for the OAuth2 auth types: authlib prepares and authenticates, our aiohttp session sends.

authlib has no aiohttp client, so its primitives do the protocol (authlib.oauth2.rfc6749.parameters
builds the form body, authlib.oauth2.auth.ClientAuth applies client_secret_basic or client_secret_post)
and the one aiohttp session of the process carries the request, never following a redirect. The
answer becomes connectors.errors: a refresh whose answer never arrived is a ReconsentError, because
the server may have rotated (spent) the refresh token we hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import msgspec
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from connectors.base import ConnectorConfig
from connectors.errors import PermanentError, RateLimitError, ReconsentError, TransientError
from connectors.tokens import FetchedToken
from connectors.transport import CONNECT_FAILURES, unreachable

logger = logging.getLogger("connectors.oauth")

DEFAULT_TIMEOUT = 10.0
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_FORM_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


class _TokenAnswer(msgspec.Struct):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105  # the OAuth field name, not a secret
    expires_in: float | None = None
    refresh_token: str | None = None


class _ErrorAnswer(msgspec.Struct):
    error: str = ""
    error_description: str | None = None


class _LostAnswerError(Exception):
    """The request may have reached the server, but no answer came back."""


def _setting(auth: Mapping[str, Any], name: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value:
        raise PermanentError(f"the connector's auth has no {name}")
    return value


def _client_auth(auth: Mapping[str, Any]) -> ClientAuth:
    method = auth.get("token_endpoint_auth_method") or "client_secret_basic"
    if method not in CLIENT_AUTH_METHODS:
        raise PermanentError(f"unsupported token_endpoint_auth_method {method!r}")
    return ClientAuth(_setting(auth, "client_id"), _setting(auth, "client_secret"), method)


async def _post_form(
    http: aiohttp.ClientSession, url: str, body: str, client_auth: ClientAuth, time_limit: float
) -> tuple[int, bytes, str | None]:
    """POST the form: TransientError if it was surely not sent, _LostAnswerError if it may have been."""
    uri, headers, data = client_auth.prepare("POST", url, dict(_FORM_HEADERS), body)
    try:
        async with http.post(
            uri,
            data=data.encode(),
            headers=headers,
            allow_redirects=False,
            # connecting gets half the time, so a connect that hangs fails as "not sent"
            timeout=aiohttp.ClientTimeout(total=time_limit, connect=time_limit / 2),
        ) as response:
            return response.status, await response.read(), response.headers.get("Retry-After")
    except CONNECT_FAILURES as exc:
        raise unreachable("the token endpoint", exc) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _LostAnswerError(type(exc).__name__) from None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _parse_token(body: bytes) -> FetchedToken:
    try:
        answer = msgspec.json.decode(body, type=_TokenAnswer)
    except msgspec.DecodeError:
        raise PermanentError("the token endpoint answered 200 without a token") from None
    if answer.token_type.lower() != "bearer":
        raise PermanentError(f"unsupported token_type {answer.token_type!r}")
    return FetchedToken(answer.access_token, answer.expires_in, answer.refresh_token)


def _oauth_error(body: bytes) -> _ErrorAnswer:
    try:
        return msgspec.json.decode(body, type=_ErrorAnswer)
    except msgspec.DecodeError:
        return _ErrorAnswer()


def _refusal(
    status: int, body: bytes, retry_after: str | None, *, grant_lost_on: frozenset[str]
) -> Exception:
    """The error for a non-200 answer; grant_lost_on names the OAuth errors that mean the grant is gone."""
    error = _oauth_error(body)
    detail = f"token endpoint answered {status} {error.error or '(no OAuth error)'}"
    if error.error_description:
        detail += f": {error.error_description[:200]}"
    if status == 429:
        return RateLimitError(detail, status_code=status, retry_after=_retry_after(retry_after))
    if status >= 500 or status == 408:
        return TransientError(detail, status_code=status, retry_after=_retry_after(retry_after))
    if error.error in grant_lost_on:
        return ReconsentError(detail, status_code=status)
    return PermanentError(detail, status_code=status)


async def _request_token(
    http: aiohttp.ClientSession,
    connector: ConnectorConfig,
    body: str,
    *,
    time_limit: float,
    grant_lost_on: frozenset[str] = frozenset(),
) -> FetchedToken:
    url = _setting(connector.auth, "token_url")
    status, answer, retry_after = await _post_form(http, url, body, _client_auth(connector.auth), time_limit)
    if status == 200:
        return _parse_token(answer)
    error = _refusal(status, answer, retry_after, grant_lost_on=grant_lost_on)
    logger.warning("token request for %r refused: %s", connector, error)
    raise error


class ClientCredentialsFetcher:
    """grant_type=client_credentials; the client authenticates by client_secret_basic or _post."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout

    async def fetch(
        self, http: aiohttp.ClientSession, connector: ConnectorConfig, refresh_token: str | None
    ) -> FetchedToken:
        body: str = prepare_token_request("client_credentials", scope=connector.auth.get("scope") or None)
        try:
            return await _request_token(http, connector, body, time_limit=self._timeout)
        except _LostAnswerError as exc:
            # nothing is spent by asking again: a new client-credentials token is harmless
            raise TransientError(f"the token answer never arrived ({exc})") from None


class RefreshTokenFetcher:
    """grant_type=refresh_token against a server that may rotate it: a lost answer loses the grant."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout

    async def fetch(
        self, http: aiohttp.ClientSession, connector: ConnectorConfig, refresh_token: str | None
    ) -> FetchedToken:
        if not refresh_token:
            raise ReconsentError("no refresh token: the connector must be authorised again")
        extra = connector.auth.get("extra_params") or {}
        params = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}
        body: str = prepare_token_request("refresh_token", refresh_token=refresh_token, **params)
        try:
            fetched = await _request_token(
                http, connector, body, time_limit=self._timeout, grant_lost_on=frozenset({"invalid_grant"})
            )
        except _LostAnswerError as exc:
            # the server may have rotated the token we hold; spending it again would revoke the grant
            logger.error(
                "refresh answer for %r never arrived (%s): the grant is presumed lost", connector, exc
            )
            raise ReconsentError(f"the refresh answer never arrived ({exc}); authorise again") from None
        return fetched


class StaticBearerFetcher:
    """type bearer: the token the connector was saved with, used as it is."""

    async def fetch(
        self, http: aiohttp.ClientSession, connector: ConnectorConfig, refresh_token: str | None
    ) -> FetchedToken:
        return FetchedToken(_setting(connector.auth, "token"), expires_in=None)
