"""A CRM on loopback (aiohttp.web) that verifies Standard Webhooks signatures with the reference verifier,
records what it got, and fails on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Crm:
    secrets: list[str] = field(default_factory=list)  # accept a signature made with any of these
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # called per request: return (status, headers) to fail, or None to accept
    fail: Callable[[dict[str, Any]], tuple[int, dict[str, str]] | None] | None = None
    delay_seconds: float = 0.0
    url: str = ""
    calls: int = 0
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.text()
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if not any(_verifies(secret, body, dict(request.headers)) for secret in self.secrets):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=400)
        envelope = json.loads(body)
        if self.fail is not None and (failure := self.fail(envelope)) is not None:
            status, headers = failure
            return web.json_response({"error": "on demand"}, status=status, headers=headers)
        if envelope["id"] not in {e["id"] for e in self.received}:  # receivers deduplicate on the event id
            self.received.append(envelope)
        self.headers.append(dict(request.headers))
        return web.json_response({"ok": True})

    def types(self) -> list[str]:
        return [e["type"] for e in self.received]


def _verifies(secret: str, body: str, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@asynccontextmanager
async def running_crm() -> AsyncIterator[Crm]:
    crm = Crm()
    application = web.Application()
    application.router.add_post("/events", crm.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    crm.url = f"http://127.0.0.1:{port}/events"
    try:
        yield crm
    finally:
        await runner.cleanup()
