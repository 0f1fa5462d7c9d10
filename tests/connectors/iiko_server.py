"""A fake-but-real iikoCloud on loopback (aiohttp.web) for the iiko connector's tests.

It checks request bodies against the field names of iiko's OpenAPI document (every schema there
has additionalProperties: false, so an unknown or misspelt field is a 400 here too), issues and
expires tokens (401), requires the `Timeout` header, can answer any status on demand (408, 500,
429, a redirect), can stall past the client's Timeout (before or after applying a write), and
records every call. Where the docs are silent it assumes: customer/info answers 400 for an
unknown guest.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_LOGIN = "test-api-login"
API_KEY, APP_ID, CLIENT_SECRET = "test-api-key", "6f1b8c55-2a6b-4c39-9d7e-1c0f7a9e2b10", "sk_test_secret"
ORGANIZATION_ID = "7a3c1f0e-5b2d-4e8f-9a6c-0d1e2f3a4b5c"

ANY_CUSTOMER_FIELDS = {
    "id", "phone", "cardTrack", "cardNumber", "name", "middleName", "surName", "birthday", "email", "sex",
    "consentStatus", "shouldReceiveLoyaltyInfo", "shouldReceivePromoActionsInfo", "referrerId", "userData",
    "isDeleted", "employeeId", "comment", "nullifyEmptyFields", "organizationId",
}  # fmt: skip
INFO_FIELDS = {
    "phone": "phone",
    "cardTrack": "cardTrack",
    "cardNumber": "cardNumber",
    "email": "email",
    "id": "id",
}
# path → (allowed fields, required fields), as iiko's OpenAPI document lists them
SCHEMAS: dict[str, tuple[set[str], set[str]]] = {
    "/api/1/access_token": ({"apiLogin"}, {"apiLogin"}),
    "/api/v2/access_token": ({"apiKey", "appId", "clientSecret"}, {"apiKey", "appId", "clientSecret"}),
    "/api/1/loyalty/iiko/customer/create_or_update": (ANY_CUSTOMER_FIELDS, {"organizationId"}),
    "/api/1/loyalty/iiko/customer_category": ({"organizationId"}, {"organizationId"}),
    "/api/1/loyalty/iiko/customer_category/add": (
        {"customerId", "categoryId", "organizationId"},
        {"customerId", "categoryId", "organizationId"},
    ),
    "/api/1/loyalty/iiko/customer/wallet/topup": (
        {"customerId", "walletId", "sum", "comment", "organizationId"},
        {"customerId", "walletId", "sum", "organizationId"},
    ),
    "/api/1/loyalty/iiko/customer/transactions/by_date": (
        {"customerId", "dateFrom", "dateTo", "pageNumber", "pageSize", "organizationId"},
        {"customerId", "dateFrom", "dateTo", "pageNumber", "pageSize", "organizationId"},
    ),
}


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Customer:
    id: str
    phone: str | None = None
    name: str | None = None
    comment: str | None = None
    categories: list[str] = field(default_factory=list)
    wallets: dict[str, float] = field(default_factory=dict)
    transactions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Fault:
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stall:
    seconds: float
    apply_first: bool  # apply the write, then never answer in time (the answer is lost)
    times: int = 1


class IikoServer:
    """The fake iikoCloud; `url` is its base, as a connector's url would be."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now  # Unix time for JWT exp claims (the tests' frozen clock)
        self.calls: list[Call] = []
        self.customers: dict[str, Customer] = {}
        self.categories: dict[str, str] = {}
        self.wallets: dict[str, tuple[str, int]] = {}  # id → (name, iiko program type)
        self.valid_tokens: set[str] = set()
        self.reject_all_tokens = False
        self._faults: dict[str, Fault] = {}
        self._stalls: dict[str, Stall] = {}
        self._release = asyncio.Event()
        self._serial = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/1/access_token", self._access_token_v1)
        app.router.add_post("/api/v2/access_token", self._access_token_v2)
        app.router.add_post("/api/1/loyalty/iiko/customer/create_or_update", self._create_or_update)
        app.router.add_post("/api/1/loyalty/iiko/customer/info", self._customer_info)
        app.router.add_post("/api/1/loyalty/iiko/customer_category", self._categories)
        app.router.add_post("/api/1/loyalty/iiko/customer_category/add", self._category_add)
        app.router.add_post("/api/1/loyalty/iiko/customer/wallet/topup", self._topup)
        app.router.add_post("/api/1/loyalty/iiko/customer/transactions/by_date", self._transactions)
        app.router.add_post("/elsewhere", self._elsewhere)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- knobs -----------------------------------------------------------------------------

    def fail(self, path: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        self._faults[path] = Fault(status, times, headers or {})

    def stall(self, path: str, *, seconds: float = 5.0, apply_first: bool = False) -> None:
        self._stalls[path] = Stall(seconds, apply_first)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def add_category(self, name: str) -> str:
        category_id = str(uuid.uuid4())
        self.categories[category_id] = name
        return category_id

    def add_wallet(self, name: str, program_type: int = 1) -> str:
        wallet_id = str(uuid.uuid4())
        self.wallets[wallet_id] = (name, program_type)
        return wallet_id

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def by_phone(self, phone: str) -> Customer | None:
        return next((c for c in self.customers.values() if c.phone == phone), None)

    # --- plumbing --------------------------------------------------------------------------

    async def _enter(self, request: web.Request, *, needs_token: bool = True) -> dict[str, Any]:
        """Record the call, then check headers, token and body shape; raise the HTTP answer on failure."""
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append(Call(request.path, dict(request.headers), body))
        if not request.headers.get("Timeout", "").isdigit():
            raise _error(400, "Timeout header must be an integer number of seconds")
        fault = self._faults.get(request.path)
        if fault is not None and fault.times > 0:
            fault.times -= 1
            if 300 <= fault.status < 400:
                raise web.HTTPTemporaryRedirect(location="/elsewhere")
            raise _error(fault.status, "injected failure", headers=fault.headers)
        if needs_token:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self.reject_all_tokens or token not in self.valid_tokens:
                raise _error(401, "Unauthorized: token expired or invalid")
        if not isinstance(body, dict):
            raise _error(400, "body must be a JSON object")
        self._check_shape(request.path, body)
        return body

    def _check_shape(self, path: str, body: dict[str, Any]) -> None:
        if path == "/api/1/loyalty/iiko/customer/info":
            kind = body.get("type")
            if kind not in INFO_FIELDS:
                raise _error(400, f"unknown type {kind!r}")
            allowed = required = {"type", INFO_FIELDS[kind], "organizationId"}
        else:
            allowed, required = SCHEMAS[path]
        unknown, missing = set(body) - allowed, required - set(body)
        if unknown or missing:
            raise _error(400, f"unknown fields {sorted(unknown)}, missing fields {sorted(missing)}")
        if "organizationId" in body and body["organizationId"] != ORGANIZATION_ID:
            raise _error(400, "organization not found")

    async def _maybe_stall(self, path: str, *, applied: bool) -> bool:
        """Stall this call if asked to; True when the write must then be dropped (never applied)."""
        stall = self._stalls.get(path)
        if stall is None or stall.times <= 0 or stall.apply_first != applied:
            return False
        stall.times -= 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), stall.seconds)
        return not applied

    # --- endpoints -------------------------------------------------------------------------

    async def _access_token_v1(self, request: web.Request) -> web.Response:
        body = await self._enter(request, needs_token=False)
        if body["apiLogin"] != API_LOGIN:
            raise _error(401, "Login is not authorized")
        return self._issue(f"v1-token-{next(self._serial)}")

    async def _access_token_v2(self, request: web.Request) -> web.Response:
        body = await self._enter(request, needs_token=False)
        if (body["apiKey"], body["appId"], body["clientSecret"]) != (API_KEY, APP_ID, CLIENT_SECRET):
            raise _error(401, "Application is not authorized")
        return self._issue(_jwt({"sub": APP_ID, "exp": int(self.now()) + 3600, "n": next(self._serial)}))

    def _issue(self, token: str) -> web.Response:
        self.valid_tokens.add(token)
        return web.json_response({"correlationId": str(uuid.uuid4()), "token": token})

    async def _create_or_update(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        if await self._maybe_stall(request.path, applied=False):
            raise _error(408, "dropped")  # the client gave up long ago; nothing was applied
        customer = self._upsert(body)
        await self._maybe_stall(request.path, applied=True)
        return web.json_response({"id": customer.id})

    def _upsert(self, body: dict[str, Any]) -> Customer:
        if body.get("id"):
            customer = self.customers.get(body["id"])
            if customer is None:
                raise _error(400, "customer not found")
        elif body.get("phone"):
            if not str(body["phone"]).startswith("+"):
                raise _error(400, "phone must start with +")
            customer = self.by_phone(body["phone"]) or Customer(id=str(uuid.uuid4()), phone=body["phone"])
            self.customers[customer.id] = customer
        else:
            raise _error(400, "Not empty phone or magnetCardTrack or id is required")
        for key in ("name", "comment"):
            if body.get(key):
                setattr(customer, key, body[key])
        return customer

    async def _customer_info(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        await self._maybe_stall(request.path, applied=False)
        kind = body["type"]
        customer = self.customers.get(body["id"]) if kind == "id" else None
        if kind == "phone":
            customer = self.by_phone(body["phone"])
        if customer is None:
            raise _error(400, f"There is no user with {kind} {body[INFO_FIELDS[kind]]}")
        return web.json_response(self._info(customer))

    def _info(self, customer: Customer) -> dict[str, Any]:
        return {
            "id": customer.id,
            "referrerId": None,
            "name": customer.name,
            "surname": None,
            "middleName": None,
            "comment": customer.comment,
            "phone": customer.phone,
            "cultureName": "ru-RU",
            "birthday": None,
            "email": None,
            "sex": 0,
            "consentStatus": 0,
            "anonymized": False,
            "cards": [],
            "categories": [
                {"id": cid, "name": self.categories[cid], "isActive": True, "isDefaultForNewGuests": False}
                for cid in customer.categories
            ],
            "walletBalances": [
                {"id": wid, "name": self.wallets[wid][0], "type": self.wallets[wid][1], "balance": balance}
                for wid, balance in customer.wallets.items()
            ],
            "userData": None,
            "isDeleted": False,
            "whenRegistered": "2026-01-01 00:00:00.000",
        }

    async def _categories(self, request: web.Request) -> web.Response:
        await self._enter(request)
        items = [
            {"id": cid, "name": name, "isActive": True, "isDefaultForNewGuests": False}
            for cid, name in self.categories.items()
        ]
        return web.json_response({"guestCategories": items})

    async def _category_add(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        customer = self.customers.get(body["customerId"])
        if customer is None or body["categoryId"] not in self.categories:
            raise _error(400, "customer or category not found")
        if body["categoryId"] not in customer.categories:
            customer.categories.append(body["categoryId"])
        await self._maybe_stall(request.path, applied=True)
        return web.json_response({})

    async def _topup(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        customer = self.customers.get(body["customerId"])
        if customer is None or body["walletId"] not in self.wallets or not body["sum"] > 0:
            raise _error(400, "customer or wallet not found, or sum is not positive")
        if await self._maybe_stall(request.path, applied=False):
            raise _error(408, "dropped")
        wallet = body["walletId"]
        customer.wallets[wallet] = customer.wallets.get(wallet, 0.0) + body["sum"]
        customer.transactions.append(
            {"id": str(uuid.uuid4()), "comment": body.get("comment"), "sum": body["sum"], "walletId": wallet}
        )
        await self._maybe_stall(request.path, applied=True)
        return web.json_response({})

    async def _transactions(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        customer = self.customers.get(body["customerId"])
        if customer is None:
            raise _error(400, "customer not found")
        page = customer.transactions[body["pageNumber"] * body["pageSize"] :][: body["pageSize"]]
        return web.json_response(
            {"transactions": page, "pageNumber": body["pageNumber"], "pageSize": body["pageSize"]}
        )

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.calls.append(Call(request.path, dict(request.headers), None))
        return web.json_response({"id": "should-never-be-reached"})


def _error(status: int, description: str, *, headers: dict[str, str] | None = None) -> web.HTTPException:
    """iiko's ErrorResponse {correlationId, errorDescription, error} with the given status."""
    body = json.dumps({"correlationId": str(uuid.uuid4()), "errorDescription": description, "error": None})
    answer = type(f"IikoHTTP{status}", (web.HTTPException,), {"status_code": status})
    error: web.HTTPException = answer(text=body, content_type="application/json", headers=headers)
    return error


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"
