"""The OAuth2 authorization server of the connector tests: npm oidc-provider in a node child process.

It records every request as a JSON line on stdout; tests count token requests from those records,
obtain a first refresh token through the authorization code flow, and introspect tokens as a CRM would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import aiohttp

SERVER_DIR = Path(__file__).resolve().parents[1] / "oauth_server"
START_TIMEOUT = 20.0
REDIRECT_URI = "http://127.0.0.1/callback"

Record = dict[str, Any]


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    auth_method: str = "client_secret_basic"
    grant_types: tuple[str, ...] = ("client_credentials",)
    scope: str = "events:write"
    redirect_uris: tuple[str, ...] = field(default=())

    def registration(self) -> Record:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_endpoint_auth_method": self.auth_method,
            "grant_types": list(self.grant_types),
            "response_types": ["code"] if "authorization_code" in self.grant_types else [],
            "redirect_uris": list(self.redirect_uris),
            "scope": self.scope,
        }


CC_BASIC = OAuthClient("hub-cc-basic", "basic-secret-0123456789")
CC_POST = OAuthClient("hub-cc-post", "post-secret-0123456789", auth_method="client_secret_post")
REFRESHING = OAuthClient(
    "hub-amo",
    "amo-secret-0123456789",
    auth_method="client_secret_post",
    grant_types=("authorization_code", "refresh_token"),
    scope="openid offline_access crm",
    redirect_uris=(REDIRECT_URI,),
)
CRM = OAuthClient("crm-resource-server", "crm-secret-0123456789")  # introspects the bearer tokens it is sent
CLIENTS = (CC_BASIC, CC_POST, REFRESHING, CRM)


def node_with_server_installed() -> str:
    """The node binary, with the server's npm dependencies installed from its lock file."""
    binary, npm = shutil.which("node"), shutil.which("npm")
    if binary is None or npm is None:
        raise RuntimeError("node and npm are needed for the OAuth2 server tests (Node 20+)")
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(  # noqa: S603  # fixed arguments, our own directory
            [npm, "ci", "--prefix", str(SERVER_DIR), "--no-audit", "--no-fund"], check=True, timeout=300
        )
    return binary


class AuthorizationServer:
    """oidc-provider on a free loopback port: records what it got, fails on demand."""

    def __init__(self, node: str, *, access_ttl: int = 3600) -> None:
        self._node = node
        self._access_ttl = access_ttl
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.records: list[Record] = []
        self.issuer = ""

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            self._node,
            str(SERVER_DIR / "server.js"),
            *("--port", "0", "--access-ttl", str(self._access_ttl)),
            *("--clients", json.dumps([client.registration() for client in CLIENTS])),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,  # oidc-provider's development-mode warnings
        )
        self._reader = asyncio.create_task(self._read(self._process))
        listening = await self.wait_for("listening", within=START_TIMEOUT)
        self.issuer = listening[0]["issuer"]

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if self._reader is not None:
            await self._reader

    async def command(self, line: str) -> None:
        """fail <status> | heal | ping, acknowledged by the server (so every earlier record is in)."""
        assert self._process is not None
        assert self._process.stdin is not None
        acknowledged = self.count("command") + 1
        self._process.stdin.write(f"{line}\n".encode())
        await self._process.stdin.drain()
        await self.wait_for("command", count=acknowledged)

    @contextlib.asynccontextmanager
    async def failing(self, status: int) -> AsyncIterator[None]:
        """The token endpoint answers `status` inside the block."""
        await self.command(f"fail {status}")
        try:
            yield
        finally:
            await self.command("heal")

    def events(self, event: str, since: int = 0) -> list[Record]:
        return [record for record in self.records[since:] if record["event"] == event]

    def count(self, event: str) -> int:
        return len(self.events(event))

    async def token_requests(self, since: int) -> list[Record]:
        """The token endpoint requests recorded after mark `since` (a len(records) taken earlier)."""
        await self.command("ping")
        return [r for r in self.events("request", since) if r["path"] == "/token"]

    async def grants(self, since: int, grant_type: str) -> list[Record]:
        await self.command("ping")
        return [r for r in self.events("grant", since) if r["grant_type"] == grant_type]

    async def wait_for(self, event: str, *, count: int = 1, within: float = 5.0) -> list[Record]:
        async with asyncio.timeout(within):
            while self.count(event) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events(event)[:count]

    async def introspect(self, http: aiohttp.ClientSession, token: str) -> Record:
        """What the server says of a token, asked as a CRM (a resource server) would."""
        async with http.post(
            self.introspection_url,
            data={"token": token},
            headers={"Authorization": aiohttp.encode_basic_auth(CRM.client_id, CRM.client_secret)},
        ) as response:
            assert response.status == 200, await response.text()
            answer: Record = await response.json()
            return answer

    async def refresh_grant(self, http: aiohttp.ClientSession, token: str, client: OAuthClient) -> Record:
        """Spend a refresh token directly (outside the hub), returning the server's JSON answer."""
        body = {"grant_type": "refresh_token", "refresh_token": token}
        body |= {"client_id": client.client_id, "client_secret": client.client_secret}
        async with http.post(self.token_url, data=body) as response:
            answer: Record = await response.json()
            return answer

    async def first_refresh_token(
        self, client: OAuthClient = REFRESHING, account: str = "venue-owner"
    ) -> str:
        """Go through the authorization code flow as a person who consents, and return the refresh token."""
        jar = aiohttp.CookieJar(unsafe=True)  # the server's cookies are set for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            code = await self._authorize(browser, client, account)
            body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
            body |= {"client_id": client.client_id, "client_secret": client.client_secret}
            async with browser.post(self.token_url, data=body) as response:
                answer = await response.json()
                assert response.status == 200, answer
        refresh_token: str = answer["refresh_token"]
        return refresh_token

    async def _authorize(self, browser: aiohttp.ClientSession, client: OAuthClient, account: str) -> str:
        query = {
            "client_id": client.client_id,
            "response_type": "code",
            "scope": client.scope,
            "redirect_uri": REDIRECT_URI,
            "login_hint": account,
            "prompt": "consent",
            "state": "test-state",
        }
        url = f"{self.issuer}/auth?{urlencode(query)}"
        for _ in range(10):
            if url.startswith(REDIRECT_URI):
                params = parse_qs(urlsplit(url).query)
                assert "code" in params, params
                return params["code"][0]
            async with browser.get(url, allow_redirects=False) as response:
                assert response.status in (302, 303), await response.text()
                url = urljoin(url, response.headers["Location"])
        raise AssertionError("the authorization flow did not reach the redirect URI")

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            if line.startswith(b"{"):  # oidc-provider may print notices of its own
                self.records.append(json.loads(line))
                self._changed.set()
