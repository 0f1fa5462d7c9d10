"""Access tokens for connectors: how one is fetched (per auth type), and the cache every process shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp

from connectors.base import ConnectorConfig


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
