"""Real peers of the connector tests: the OAuth2 authorization server (npm oidc-provider) on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.oauth_server import AuthorizationServer, node_with_server_installed


@pytest.fixture(scope="session")
async def oauth_server() -> AsyncIterator[AuthorizationServer]:
    """One authorization server for the run; tests count its records from a mark taken at their start."""
    try:
        node = node_with_server_installed()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    server = AuthorizationServer(node)
    await server.start()
    yield server
    await server.stop()
