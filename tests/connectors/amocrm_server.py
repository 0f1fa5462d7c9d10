"""A fake but real amoCRM API v4 on loopback (aiohttp.web), for the amoCRM destination's tests.

It speaks the documented shapes (see connectors/amocrm/wire.py for the sources): Bearer tokens,
contacts search (204 when nothing matches) and creation, notes creation and listing, HAL
`_embedded` bodies, application/problem+json errors. It enforces 7 requests in any second with 429
(no Retry-After, as amoCRM), can answer any status or stall on demand, and records every call with
its arrival time on the event loop's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RATE_LIMIT = 7
RATE_WINDOW = 1.0


@dataclass
class Call:
    method: str
    route: str  # contacts.search | contacts.create | notes.create | notes.list
    path: str
    query: dict[str, str]
    token: str | None
    at: float  # loop.time() on arrival
    body: Any = None
    status: int = 0


@dataclass
class Stall:
    """Hold the answer to a route until released: after applying the write, or instead of it."""

    route: str
    applies: bool
    times: int = 1


@dataclass
class AmoCrmServer:
    valid_tokens: set[str] = field(default_factory=set)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    fail_next: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)  # (status, headers)
    stalls: list[Stall] = field(default_factory=list)
    enforce_rate: bool = True
    _accepted_at: deque[float] = field(default_factory=deque)
    _next_id: int = 1000
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v4/contacts", self._contacts)
        app.router.add_route("*", "/api/v4/contacts/{contact_id:\\d+}/notes", self._notes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_contact(self, name: str, phone: str, *, enum_code: str = "WORK") -> int:
        contact_id = self._new_id()
        self.contacts[contact_id] = {
            "id": contact_id,
            "name": name,
            "custom_fields_values": [
                {
                    "field_id": 264911,
                    "field_name": "Телефон",
                    "field_code": "PHONE",
                    "field_type": "multitext",
                    "values": [{"value": phone, "enum_id": 1, "enum_code": enum_code}],
                }
            ],
            "account_id": 28805383,
            "_embedded": {"tags": [], "companies": []},
        }
        return contact_id

    def add_note(self, contact_id: int, text: str) -> int:
        note_id = self._new_id()
        self.notes.append(
            {
                "id": note_id,
                "entity_id": contact_id,
                "created_by": 0,
                "created_at": 1700000000,
                "updated_at": 1700000000,
                "note_type": "common",
                "params": {"text": text},
                "account_id": 28805383,
            }
        )
        return note_id

    def notes_on(self, contact_id: int) -> list[dict[str, Any]]:
        return [n for n in self.notes if n["entity_id"] == contact_id]

    def calls_to(self, route: str) -> list[Call]:
        return [c for c in self.calls if c.route == route]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # the gate every request passes: token, rate, failures on demand

    async def _gate(self, request: web.Request, route: str) -> tuple[Call, web.Response | None]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        body = await request.json() if request.can_read_body else None
        now = asyncio.get_running_loop().time()
        call = Call(request.method, route, request.path, dict(request.query), token, now, body)
        self.calls.append(call)
        if token not in self.valid_tokens:
            return call, _problem(401, "Unauthorized", "Invalid access token")
        if self.enforce_rate and self._over_rate(now):
            return call, web.Response(status=429, text="")
        self._accepted_at.append(now)
        if self.fail_next:
            status, headers = self.fail_next.popleft()
            if 300 <= status < 400:
                return call, web.Response(status=status, headers=headers)
            return call, _problem(status, "Failure on demand", f"the test asked for {status}", headers)
        return call, None

    def _over_rate(self, now: float) -> bool:
        while self._accepted_at and now - self._accepted_at[0] >= RATE_WINDOW:
            self._accepted_at.popleft()
        return len(self._accepted_at) >= RATE_LIMIT

    async def _stall(self, route: str, *, applied: bool) -> bool:
        """Wait here if a stall is armed for this route at this point; True if the answer must be dropped."""
        for stall in self.stalls:
            if stall.route == route and stall.applies == applied and stall.times > 0:
                stall.times -= 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), timeout=10)
                return True
        return False

    def _answer(self, call: Call, response: web.Response) -> web.Response:
        call.status = response.status
        return response

    # routes

    async def _contacts(self, request: web.Request) -> web.StreamResponse:
        route = "contacts.search" if request.method == "GET" else "contacts.create"
        call, refusal = await self._gate(request, route)
        if refusal is not None:
            return self._answer(call, refusal)
        if request.method == "GET":
            if await self._stall(route, applied=False):
                raise web.HTTPServiceUnavailable()
            return self._answer(call, self._search(request.query.get("query", "")))
        if request.method == "POST":
            return self._answer(call, await self._create_contacts(call.body))
        return self._answer(call, _problem(405, "Method Not Allowed", request.method))

    def _search(self, query: str) -> web.Response:
        digits = re.sub(r"\D", "", query)
        found = [c for c in self.contacts.values() if query and _matches(c, query, digits)]
        if not found:
            return web.Response(status=204)
        return _hal(
            {
                "_page": 1,
                "_links": {"self": {"href": f"{self.url}/api/v4/contacts?query={query}"}},
                "_embedded": {"contacts": found},
            }
        )

    async def _create_contacts(self, body: Any) -> web.Response:
        if not isinstance(body, list) or not body:
            return _problem(400, "Bad Request", "Request validation failed")
        created = []
        for index, item in enumerate(body):
            if not isinstance(item, dict) or "id" in item:
                return _validation(index, "id", "NotSupportedChoice")
            contact_id = self._new_id()
            self.contacts[contact_id] = {
                "id": contact_id,
                "name": item.get("name", ""),
                "custom_fields_values": item.get("custom_fields_values"),
                "_embedded": {"tags": (item.get("_embedded") or {}).get("tags", [])},
            }
            created.append(
                {
                    "id": contact_id,
                    "request_id": str(item.get("request_id", index)),
                    "_links": {"self": {"href": f"{self.url}/api/v4/contacts/{contact_id}"}},
                }
            )
        if await self._stall("contacts.create", applied=True):
            raise web.HTTPServiceUnavailable()
        return _hal(
            {"_links": {"self": {"href": f"{self.url}/api/v4/contacts"}}, "_embedded": {"contacts": created}}
        )

    async def _notes(self, request: web.Request) -> web.StreamResponse:
        route = "notes.list" if request.method == "GET" else "notes.create"
        call, refusal = await self._gate(request, route)
        if refusal is not None:
            return self._answer(call, refusal)
        contact_id = int(request.match_info["contact_id"])
        if contact_id not in self.contacts:
            return self._answer(call, _problem(404, "Not Found", "No such contact"))
        if request.method == "GET":
            return self._answer(call, self._list_notes(contact_id, request.query))
        if await self._stall(route, applied=False):
            raise web.HTTPServiceUnavailable()  # the client gave up long ago; nothing was written
        return self._answer(call, await self._create_notes(contact_id, call.body))

    def _list_notes(self, contact_id: int, query: Any) -> web.Response:
        notes = self.notes_on(contact_id)
        if "filter[note_type]" in query:
            notes = [n for n in notes if n["note_type"] == query["filter[note_type]"]]
        if query.get("order[id]") == "desc":
            notes = sorted(notes, key=lambda n: n["id"], reverse=True)
        notes = notes[: min(int(query.get("limit", "50")), 250)]
        if not notes:
            return web.Response(status=204)
        return _hal({"_page": 1, "_embedded": {"notes": notes}})

    async def _create_notes(self, contact_id: int, body: Any) -> web.Response:
        if not isinstance(body, list) or not body:
            return _problem(400, "Bad Request", "Request validation failed")
        created = []
        for index, item in enumerate(body):
            text = (item.get("params") or {}).get("text") if isinstance(item, dict) else None
            if item.get("note_type") != "common" or not isinstance(text, str):
                return _validation(index, "params.text", "NotBlank")
            note_id = self.add_note(contact_id, text)
            created.append({"id": note_id, "entity_id": contact_id, "request_id": str(index)})
        if await self._stall("notes.create", applied=True):
            raise web.HTTPServiceUnavailable()  # written, but the answer never arrives in time
        return _hal({"_embedded": {"notes": created}})


def _matches(contact: dict[str, Any], query: str, digits: str) -> bool:
    if query.lower() in str(contact.get("name", "")).lower():
        return True
    for field_ in contact.get("custom_fields_values") or []:
        for value in field_.get("values", []):
            if digits and digits in re.sub(r"\D", "", str(value.get("value", ""))):
                return True
    return False


def _hal(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, content_type="application/hal+json")


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json", headers=headers)


def _validation(index: int, path: str, code: str) -> web.Response:
    return web.json_response(
        {
            "validation-errors": [
                {"request_id": str(index), "errors": [{"code": code, "path": path, "detail": "invalid"}]}
            ],
            "title": "Bad Request",
            "type": "https://httpstatus.es/400",
            "status": 400,
            "detail": "Request validation failed",
        },
        status=400,
        content_type="application/problem+json",
    )
