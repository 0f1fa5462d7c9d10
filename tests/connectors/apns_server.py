"""A stand-in for APNs on loopback: Hypercorn serving HTTP/2 over TLS, client certificate required.

It records every request (HTTP version, method, path, headers, body) and answers a device token
with the status and JSON body a test set for it, 200 with an `apns-id` otherwise, as APNs does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Recorded:
    http_version: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApns:
    requests: list[Recorded] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read_body(receive)
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        self.requests.append(Recorded(scope["http_version"], scope["method"], scope["path"], headers, body))
        token = scope["path"].rsplit("/", 1)[-1]
        status, answer = self.answers.get(token, (200, {}))
        apns_id = f"apns-{len(self.requests)}".encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"apns-id", apns_id)]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode() if answer else b""})


class ApnsServer:
    """Runs FakeApns on 127.0.0.1 with a server certificate and the client CAs given as files;
    `trusted_ca_pem` is what a client needs to trust the server certificate."""

    def __init__(
        self,
        directory: Path,
        server_cert_pem: bytes,
        server_key_pem: bytes,
        client_ca_pem: bytes,
        trusted_ca_pem: bytes,
    ) -> None:
        self.app = FakeApns()
        self.trusted_ca_pem = trusted_ca_pem
        self._config = Config()
        self._config.certfile = _write(directory / "server.pem", server_cert_pem)
        self._config.keyfile = _write(directory / "server.key", server_key_pem)
        self._config.ca_certs = _write(directory / "client-ca.pem", client_ca_pem)
        self._config.verify_mode = ssl.CERT_REQUIRED
        self._config.alpn_protocols = ["h2"]
        self._config.accesslog = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # connections queue from now on, before Hypercorn reaches accept()
        port = listener.getsockname()[1]
        self._config.bind = [f"fd://{listener.detach()}"]
        self.url = f"https://127.0.0.1:{port}"
        app: Any = self.app
        self._task = asyncio.create_task(serve(app, self._config, shutdown_trigger=self._stop.wait))
        await asyncio.sleep(0)
        if self._task.done():
            self._task.result()  # a server that failed to start says why here

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
