"""The process-wide runtime of the connectors (tokens, refs, HTTP) and the destination of each kind."""

from __future__ import annotations

import aiohttp

from connectors.amocrm import AmoCrmDestination
from connectors.base import Destination, Runtime
from connectors.iiko import IikoDestination, IikoTokenFetcher
from connectors.refs import DbRefStore
from connectors.rest import RestDestination
from connectors.tokens import DbTokenSource, TokenFetcher, default_fetchers
from hub.clock import Clock
from hub.crypto import Keyring
from hub.db import Database


def token_fetchers(clock: Clock) -> dict[str, TokenFetcher]:
    iiko = IikoTokenFetcher(clock)
    return {**default_fetchers(), "iiko_api_login": iiko, "iiko_api_key": iiko}


def build_runtime(database: Database, keyring: Keyring, clock: Clock, http: aiohttp.ClientSession) -> Runtime:
    tokens = DbTokenSource(database, keyring, clock, http, token_fetchers(clock))
    return Runtime(http=http, tokens=tokens, refs=DbRefStore(database), clock=clock)


def build_destinations(runtime: Runtime) -> dict[str, Destination]:
    return {
        "rest": RestDestination(runtime),
        "iiko": IikoDestination(runtime),
        "amocrm": AmoCrmDestination(runtime),
    }
