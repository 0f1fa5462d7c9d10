"""Real peers on loopback for the SMS gateways: the npm `smpp` server (node) and an aiohttp.web endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web

from pin.sms import SmsGateway

SERVER_DIR = Path(__file__).resolve().parents[1] / "smpp_server"
SYSTEM_ID = "hub"
PASSWORD = "s3cret"
START_TIMEOUT = 15.0

Record = dict[str, Any]
G = TypeVar("G", bound=SmsGateway)


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with the server's npm dependencies installed from its lock file."""
    binary = shutil.which("node")
    npm = shutil.which("npm")
    if binary is None or npm is None:
        pytest.fail("node and npm are needed for the SMPP server tests (Node 20+)", pytrace=False)
    if not (SERVER_DIR / "node_modules" / "smpp").is_dir():
        subprocess.run(  # noqa: S603  # fixed arguments, our own directory
            [npm, "ci", "--prefix", str(SERVER_DIR), "--no-audit", "--no-fund"], check=True, timeout=300
        )
    return binary


class SmppServer:
    """The server half of npm `smpp` in a child process: records what it got, fails on demand."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.records: list[Record] = []
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port the first time and on the same port after a stop."""
        self._process = await asyncio.create_subprocess_exec(
            self._node,
            str(SERVER_DIR / "server.js"),
            *("--port", str(self.port), "--system-id", SYSTEM_ID, "--password", PASSWORD),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self._process))
        listening = await self.wait_for("listening", count=self.count("listening") + 1, within=START_TIMEOUT)
        self.port = listening[-1]["port"]

    async def stop(self) -> None:
        """Kill the process: every connection drops and the port refuses until the next start."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if self._reader is not None:
            await self._reader

    async def command(self, name: str) -> None:
        """drop | refuse | accept | mute | unmute, acknowledged by the server."""
        assert self._process is not None
        assert self._process.stdin is not None
        acknowledged = self.count("command") + 1
        self._process.stdin.write(f"{name}\n".encode())
        await self._process.stdin.drain()
        await self.wait_for("command", count=acknowledged)

    def events(self, event: str) -> list[Record]:
        return [record for record in self.records if record["event"] == event]

    def count(self, event: str) -> int:
        return len(self.events(event))

    async def wait_for(self, event: str, *, count: int = 1, within: float = 5.0) -> list[Record]:
        """The first `count` records of this event, once the server has written them."""
        async with asyncio.timeout(within):
            while self.count(event) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events(event)[:count]

    def url(self, *, password: str = PASSWORD, **query: str | float) -> str:
        params = {"source_addr": "CoalHub", **query}
        return f"smpp://{SYSTEM_ID}:{quote(password)}@127.0.0.1:{self.port}?{urlencode(params)}"

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.records.append(json.loads(line))
            self._changed.set()


@pytest.fixture
async def smpp_server(node: str) -> AsyncIterator[SmppServer]:
    server = SmppServer(node)
    await server.start()
    yield server
    await server.stop()


class Gateways:
    """Gateways a test opened, closed after it whatever it did to them."""

    def __init__(self) -> None:
        self._opened: list[SmsGateway] = []

    def add(self, gateway: G) -> G:
        self._opened.append(gateway)
        return gateway

    async def close_all(self) -> None:
        for gateway in self._opened:
            await gateway.close()


@pytest.fixture
async def gateways() -> AsyncIterator[Gateways]:
    opened = Gateways()
    yield opened
    await opened.close_all()


class HttpSmsEndpoint:
    """A vendor's SMS endpoint on loopback (aiohttp.web): records each request, answers as told."""

    def __init__(self) -> None:
        self.requests: list[Record] = []
        self.status = 200
        self.answer: Any = {"id": "vendor-1"}
        self.delay = 0.0
        self.port = 0
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        self._released.set()  # a slow answer still in progress ends now
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/sms"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "body": await request.json(),
                "authorization": request.headers.get("Authorization"),
                "content_type": request.content_type,
                "url": str(request.url),
            }
        )
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), self.delay)
        if isinstance(self.answer, bytes):
            return web.Response(body=self.answer, status=self.status)
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def http_endpoint() -> AsyncIterator[HttpSmsEndpoint]:
    endpoint = HttpSmsEndpoint()
    await endpoint.start()
    yield endpoint
    await endpoint.stop()
