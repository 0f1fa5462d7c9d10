"""A fake-but-real iikoCloud on loopback (aiohttp.web) for the iiko connector's tests.

It checks request bodies against the field names of iiko's OpenAPI document (every schema there
has additionalProperties: false, so an unknown or misspelt field is a 400 here too), issues and
expires tokens (401), requires the `Timeout` header, can answer any status on demand (408, 500,
429, a redirect), can stall past the client's Timeout (before or after applying a write), and
records every call. Where the docs are silent it assumes: customer/info answers 400 for an
unknown guest.

Orders coming back: it holds webhook settings per (organization, API login) as
`webhooks/update_settings` replaced them (nested filters and their enums validated too), keeps table
and delivery orders that tests add, close, change and delete (each change raises the order's
`timestamp`), answers `order/by_id` and `order/by_table` from them, and posts webhook arrays to the
registered `webHooksUri` the way iiko does: a JSON array, the raw `authToken` in `Authorization`
(or `Bearer <token>` on request). Where the docs are silent it assumes: `webhooks/settings` before
any registration answers nulls; a modifier's `resultSum` is its price times its quantity, which is
its amount times the item's unless `amountIndependentOfParentAmount`; an order's `sum` is the
undeleted items' and modifiers' `resultSum` added up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

API_LOGIN = "test-api-login"
API_KEY, APP_ID, CLIENT_SECRET = "test-api-key", "6f1b8c55-2a6b-4c39-9d7e-1c0f7a9e2b10", "sk_test_secret"
ORGANIZATION_ID = "7a3c1f0e-5b2d-4e8f-9a6c-0d1e2f3a4b5c"
TERMINAL_GROUP_ID = "3f2b6c1d-8e4a-4b7c-9d0e-1a2b3c4d5e6f"

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
    # UpdateWebHookSettingsRequest, GetWebHookSettingsRequest
    "/api/1/webhooks/update_settings": (
        {"organizationId", "webHooksUri", "authToken", "webHooksFilter"},
        {"organizationId", "webHooksUri"},
    ),
    "/api/1/webhooks/settings": ({"organizationId"}, {"organizationId"}),
    # TableOrders.Request.GetTableOrdersByIdRequest, GetTableOrdersByTableRequest
    "/api/1/order/by_id": (
        {"sourceKeys", "organizationIds", "orderIds", "posOrderIds", "returnExternalDataKeys"},
        {"organizationIds"},
    ),
    "/api/1/order/by_table": (
        {"sourceKeys", "organizationIds", "tableIds", "statuses", "dateFrom", "dateTo"},
        {"organizationIds", "tableIds"},
    ),
}
# Integration.WebHooksFilters.*: every filter is additionalProperties: false too
FILTER_FIELDS: dict[str, set[str]] = {
    "deliveryOrderFilter": {"orderStatuses", "itemStatuses", "errors", "returnedExternalDataKeys"},
    "tableOrderFilter": {"orderStatuses", "itemStatuses", "errors"},
    "reserveFilter": {"updates", "errors"},
    "stopListUpdateFilter": {"updates"},
    "personalShiftFilter": {"updates"},
    "nomenclatureUpdateFilter": {"updates"},
    "businessHoursAndMappingUpdateFilter": {"updates"},
}
ORDER_STATUSES = {"New", "Bill", "Closed", "Deleted"}  # Orders.Common.OrderStatus
DELIVERY_STATUSES = {
    "Unconfirmed", "WaitCooking", "ReadyForCooking", "CookingStarted", "CookingCompleted", "Waiting", "OnWay",
    "Delivered", "Closed", "Cancelled",
}  # fmt: skip
ITEM_STATUSES = {"Added", "PrintedNotCooking", "CookingStarted", "CookingCompleted", "Served"}
STATUS_ENUMS = {"deliveryOrderFilter": DELIVERY_STATUSES, "tableOrderFilter": ORDER_STATUSES}
IIKO_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}")  # yyyy-MM-dd HH:mm:ss.fff


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
    description: str = "injected failure"


@dataclass
class Order:
    """An order iiko holds: `body` is its TableOrder or delivery Order JSON, spelled as iiko spells it."""

    id: str
    pos_id: str
    kind: str  # "table" or "delivery"
    body: dict[str, Any]
    timestamp: int
    organization_id: str = ORGANIZATION_ID
    creation_status: str = "Success"

    def info(self) -> dict[str, Any]:
        """TableOrderInfo / OrderInfo, as an event's eventInfo or an item of by_id's orders."""
        return {
            "id": self.id,
            "posId": self.pos_id,
            "externalNumber": None,
            "organizationId": self.organization_id,
            "timestamp": self.timestamp,
            "creationStatus": self.creation_status,
            "errorInfo": None,
            "order": copy.deepcopy(self.body),
        }


@dataclass
class Delivery:
    """One webhook POST the stand-in made, and what the handler answered."""

    uri: str
    headers: dict[str, str]
    body: list[dict[str, Any]]
    status: int


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
        self.token_logins: dict[str, str] = {}  # token → the API login (or app) it was issued to
        self.organizations: set[str] = {ORGANIZATION_ID}
        self.webhook_settings: dict[tuple[str, str], dict[str, Any]] = {}  # (organization, login) → body
        self.orders: dict[str, Order] = {}
        self.deliveries: list[Delivery] = []
        self._numbers = itertools.count(101)
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
        app.router.add_post("/api/1/webhooks/update_settings", self._update_settings)
        app.router.add_post("/api/1/webhooks/settings", self._settings)
        app.router.add_post("/api/1/order/by_id", self._by_id)
        app.router.add_post("/api/1/order/by_table", self._by_table)
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

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        description: str = "injected failure",
    ) -> None:
        self._faults[path] = Fault(status, times, headers or {}, description)

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

    # --- orders ----------------------------------------------------------------------------

    def add_order(
        self,
        items: list[dict[str, Any]],
        *,
        kind: str = "table",
        table_ids: Iterable[str] = (),
        phone: str | None = None,
        customer: dict[str, Any] | None = None,
        discounts: Iterable[dict[str, Any]] = (),
        when_created: str = "2026-03-14 21:05:00.000",
        guests: int = 2,
        waiter: str = "Анна Смирнова",
        external_data: dict[str, str] | None = None,
    ) -> Order:
        """A new order (status New, or Unconfirmed for a delivery) with the given items and discounts."""
        body = _order_body(
            kind, items, list(discounts), when_created=when_created, number=next(self._numbers)
        )
        body |= {
            "phone": phone,
            "customer": customer,
            "guestsInfo": {"count": guests, "splitBetweenPersons": False},
        }
        if kind == "table":
            body |= {"tableIds": list(table_ids) or [str(uuid.uuid4())], "waiter": _employee(waiter)}
        else:
            body |= {
                "operator": _employee(waiter),
                "completeBefore": when_created,
                "cookingStartTime": when_created,
            }
        body["externalData"] = [{"key": k, "value": v} for k, v in (external_data or {}).items()] or None
        order = Order(str(uuid.uuid4()), str(uuid.uuid4()), kind, body, self._now_ms())
        self.orders[order.id] = order
        return order

    def close_order(self, order_id: str, when_closed: str, *, payment_kind: str = "Card") -> Order:
        """The guest pays the whole sum and the order is Closed at the terminal-local `when_closed`."""
        order = self.orders[order_id]
        total = order.body["sum"]
        payment_type = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, payment_kind)),
            "name": payment_kind,
            "kind": payment_kind,
        }
        payment = {
            "paymentType": payment_type,
            "sum": total, "isPreliminary": False, "isExternal": False, "isProcessedExternally": False,
            "isFiscalizedExternally": False, "isPrepay": False,
        }  # fmt: skip
        order.body |= {"status": "Closed", "whenBillPrinted": when_closed, "whenClosed": when_closed}
        order.body |= {"payments": [payment], "processedPaymentsSum": total}
        return self._bump(order)

    def change_order(
        self,
        order_id: str,
        *,
        items: list[dict[str, Any]] | None = None,
        discounts: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> Order:
        """Change an order as a later edit at the terminal would (the sum follows new items)."""
        order = self.orders[order_id]
        if items is not None:
            order.body |= {"items": items, "sum": _order_sum(items)}
        if discounts is not None:
            order.body["discounts"] = discounts
        order.body |= fields
        return self._bump(order)

    def delete_order(self, order_id: str) -> Order:
        order = self.orders[order_id]
        order.body["status"] = "Deleted" if order.kind == "table" else "Cancelled"
        return self._bump(order)

    def _now_ms(self) -> int:
        return int(self.now() * 1000)

    def _bump(self, order: Order) -> Order:
        order.timestamp = max(order.timestamp + 1, self._now_ms())
        return order

    # --- webhooks out ----------------------------------------------------------------------

    def order_event(self, order_id: str, *, event_type: str | None = None) -> dict[str, Any]:
        """The event iiko sends for the order as it is now (a copy: later changes do not alter it)."""
        order = self.orders[order_id]
        kind = event_type or ("TableOrderUpdate" if order.kind == "table" else "DeliveryOrderUpdate")
        return {
            "eventType": kind,
            "eventTime": _iiko_time(dt.datetime.fromtimestamp(self.now(), dt.UTC)),
            "organizationId": order.organization_id,
            "correlationId": str(uuid.uuid4()),
            "eventInfo": order.info(),
        }

    def shift_event(self) -> dict[str, Any]:
        """A PersonalShift event: a type the hub does not read, sent when the filter asks for it."""
        return {
            "eventType": "PersonalShift",
            "eventTime": _iiko_time(dt.datetime.fromtimestamp(self.now(), dt.UTC)),
            "organizationId": ORGANIZATION_ID,
            "correlationId": str(uuid.uuid4()),
            "eventInfo": {
                "id": str(uuid.uuid4()),
                "roleId": str(uuid.uuid4()),
                "opened": True,
                "terminalGroupId": TERMINAL_GROUP_ID,
            },
        }

    async def post_webhooks(
        self,
        events: list[dict[str, Any]],
        *,
        organization_id: str = ORGANIZATION_ID,
        login: str = API_LOGIN,
        bearer: bool = False,
        times: int = 1,
    ) -> list[int]:
        """POST one array of events to the registered webHooksUri, `times` times (iiko retrying);
        the statuses the handler answered."""
        settings = self.webhook_settings.get((organization_id, login))
        if settings is None:
            raise LookupError(f"nothing registered for organization {organization_id} and login {login}")
        headers = {"Content-Type": "application/json"}
        if settings.get("authToken") is not None:
            token = settings["authToken"]
            headers["Authorization"] = f"Bearer {token}" if bearer else token
        statuses = []
        async with aiohttp.ClientSession() as http:
            for _ in range(times):
                async with http.post(
                    settings["webHooksUri"], data=json.dumps(events), headers=headers
                ) as answer:
                    await answer.read()
                    statuses.append(answer.status)
                self.deliveries.append(Delivery(settings["webHooksUri"], headers, events, statuses[-1]))
        return statuses

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
            raise _error(fault.status, fault.description, headers=fault.headers)
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
        if "organizationId" in body and body["organizationId"] not in self.organizations:
            raise _error(400, "organization not found")
        if path in ORDER_PATHS:
            _check_order_request(path, body, self.organizations)
        if path == "/api/1/webhooks/update_settings":
            _check_webhook_settings(body)

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
        return self._issue(f"v1-token-{next(self._serial)}", API_LOGIN)

    async def _access_token_v2(self, request: web.Request) -> web.Response:
        body = await self._enter(request, needs_token=False)
        if (body["apiKey"], body["appId"], body["clientSecret"]) != (API_KEY, APP_ID, CLIENT_SECRET):
            raise _error(401, "Application is not authorized")
        claims = {"sub": APP_ID, "exp": int(self.now()) + 3600, "n": next(self._serial)}
        return self._issue(_jwt(claims), APP_ID)

    def _issue(self, token: str, login: str) -> web.Response:
        self.valid_tokens.add(token)
        self.token_logins[token] = login
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

    def _login(self, request: web.Request) -> str:
        return self.token_logins[request.headers["Authorization"].removeprefix("Bearer ")]

    async def _update_settings(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        self.webhook_settings[(body["organizationId"], self._login(request))] = body
        return web.json_response({"correlationId": str(uuid.uuid4())})

    async def _settings(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        login = self._login(request)
        held = self.webhook_settings.get((body["organizationId"], login), {})
        return web.json_response(
            {
                "correlationId": str(uuid.uuid4()),
                "apiLoginName": login,
                "webHooksUri": held.get("webHooksUri"),
                "authToken": held.get("authToken"),
                "webHooksFilter": held.get("webHooksFilter"),
            }
        )

    def _table_orders(self, organization_ids: list[str]) -> list[Order]:
        return [
            o for o in self.orders.values() if o.kind == "table" and o.organization_id in organization_ids
        ]

    async def _by_id(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        await self._maybe_stall(request.path, applied=False)
        wanted = {i.lower() for i in body.get("orderIds") or body.get("posOrderIds") or ()}
        by_pos = body.get("orderIds") is None
        found = [
            o
            for o in self._table_orders(body["organizationIds"])
            if (o.pos_id if by_pos else o.id).lower() in wanted
        ]
        return _orders_answer(found)

    async def _by_table(self, request: web.Request) -> web.Response:
        body = await self._enter(request)
        tables = {t.lower() for t in body["tableIds"]}
        statuses = set(body.get("statuses") or ORDER_STATUSES)
        found = [
            o
            for o in self._table_orders(body["organizationIds"])
            if tables & {t.lower() for t in o.body["tableIds"]}
            and o.body["status"] in statuses
            and _within(o.body["whenCreated"], body.get("dateFrom"), body.get("dateTo"))
        ]
        return _orders_answer(found)

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.calls.append(Call(request.path, dict(request.headers), None))
        return web.json_response({"id": "should-never-be-reached"})


# --- what a test builds orders from ----------------------------------------------------------


def _money(value: Decimal) -> float:
    """A rouble amount as iiko writes it: a JSON double (2115.1, never 2115.0999…)."""
    return float(value)


def modifier(
    name: str, price: str = "0", amount: int = 1, *, independent: bool = False, deleted: bool = False
) -> dict[str, Any]:
    """An OrderItemModifier; product() fills in its resultSum once it knows the item's amount."""
    return {
        "product": {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)), "name": name},
        "amount": amount,
        "amountIndependentOfParentAmount": independent,
        "price": _money(Decimal(price)),
        "pricePredefined": False,
        "resultSum": 0.0,
        "deleted": _deleted() if deleted else None,
        "positionId": str(uuid.uuid4()),
    }


def product(
    name: str,
    price: str,
    amount: str = "1",
    *,
    discount: str = "0",
    modifiers: Iterable[dict[str, Any]] = (),
    deleted: bool = False,
    status: str = "Served",
) -> dict[str, Any]:
    """A ProductOrderItem: cost is price times amount, resultSum that less `discount` (all in roubles)."""
    quantity, unit = Decimal(amount), Decimal(price)
    mods = [m | {"resultSum": _money(_modifier_sum(m, quantity))} for m in modifiers]
    return {
        "type": "Product",
        "product": {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)), "name": name},
        "amount": float(quantity) if quantity != quantity.to_integral() else int(quantity),
        "price": _money(unit),
        "cost": _money(unit * quantity),
        "resultSum": _money(unit * quantity - Decimal(discount)),
        "pricePredefined": False,
        "positionId": str(uuid.uuid4()),
        "taxPercent": None,
        "status": status,
        "deleted": _deleted() if deleted else None,
        "modifiers": mods,
        "comment": None,
        "size": None,
        "comboInformation": None,
    }


def discount(name: str, amount: str, *, positions: Iterable[str] = ()) -> dict[str, Any]:
    """A DiscountItem of the discount type named `name` (its id derived from the name)."""
    ids = list(positions)
    return {
        "discountType": {"id": discount_type_id(name), "name": name},
        "sum": _money(Decimal(amount)),
        "selectivePositions": ids or None,
        "selectivePositionsWithSum": None,
    }


def discount_type_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"iiko-discount:{name}"))


def regular_customer(name: str, customer_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "regular", "id": customer_id or str(uuid.uuid4()), "name": name, "surname": None,
        "comment": None, "gender": "NotSpecified", "inBlacklist": False, "blacklistReason": None,
        "birthdate": None,
    }  # fmt: skip


def _deleted() -> dict[str, Any]:
    removal = {"id": str(uuid.uuid4()), "name": "Ошибка официанта"}
    return {"deletionMethod": {"id": str(uuid.uuid4()), "comment": None, "removalType": removal}}


def _employee(name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, name)), "name": name, "phone": None}


def _modifier_sum(mod: dict[str, Any], parent_amount: Decimal) -> Decimal:
    quantity = Decimal(mod["amount"]) * (1 if mod["amountIndependentOfParentAmount"] else parent_amount)
    return Decimal(str(mod["price"])) * quantity


def _order_sum(items: list[dict[str, Any]]) -> float:
    total = Decimal(0)
    for item in items:
        if item["deleted"] is None:
            total += Decimal(str(item["resultSum"]))
            total += sum(
                (Decimal(str(m["resultSum"])) for m in item["modifiers"] if m["deleted"] is None), Decimal(0)
            )
    return _money(total)


def _order_body(
    kind: str, items: list[dict[str, Any]], discounts: list[dict[str, Any]], *, when_created: str, number: int
) -> dict[str, Any]:
    service = "Common" if kind == "table" else "DeliveryByCourier"
    order_type = {"id": str(uuid.uuid5(uuid.NAMESPACE_OID, service)), "name": "Обычный заказ"}
    return {
        "status": "New" if kind == "table" else "Unconfirmed",
        "whenCreated": when_created, "whenBillPrinted": None, "whenClosed": None,
        "sum": _order_sum(items), "number": number, "sourceKey": None, "items": items, "combos": [],
        "payments": [], "tips": [], "discounts": discounts,
        "orderType": order_type | {"orderServiceType": service},
        "terminalGroupId": TERMINAL_GROUP_ID, "processedPaymentsSum": 0.0,
        "loyaltyInfo": {"coupon": None, "appliedManualConditions": None, "dynamicDiscounts": None},
    }  # fmt: skip


def _iiko_time(at: dt.datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond // 1000:03d}"


def _within(created: str, date_from: str | None, date_to: str | None) -> bool:
    """One fixed-width spelling on both sides, so text order is time order."""
    return (date_from is None or created >= date_from) and (date_to is None or created <= date_to)


def _orders_answer(orders: list[Order]) -> web.Response:
    return web.json_response({"correlationId": str(uuid.uuid4()), "orders": [o.info() for o in orders]})


# --- request checks beyond field names ---------------------------------------------------------

ORDER_PATHS = {"/api/1/order/by_id", "/api/1/order/by_table"}


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _check_ids(body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if value is not None and not (isinstance(value, list) and all(_is_uuid(v) for v in value)):
        raise _error(400, f"{key} must be a list of uuids")


def _check_order_request(path: str, body: dict[str, Any], organizations: set[str]) -> None:
    for key in ("organizationIds", "orderIds", "posOrderIds", "tableIds"):
        _check_ids(body, key)
    if not set(body["organizationIds"]) <= organizations:
        raise _error(400, "organization not found")
    if path == "/api/1/order/by_id" and (body.get("orderIds") is None) == (body.get("posOrderIds") is None):
        raise _error(400, "orderIds is required if posOrderIds is null and must be null if it is not")
    if path == "/api/1/order/by_table":
        if not set(body.get("statuses") or ()) <= ORDER_STATUSES:
            raise _error(400, "statuses must be OrderStatus values")
        for key in ("dateFrom", "dateTo"):
            if body.get(key) is not None and not IIKO_TIME.fullmatch(str(body[key])):
                raise _error(400, f"{key} must be yyyy-MM-dd HH:mm:ss.fff")


def _check_webhook_settings(body: dict[str, Any]) -> None:
    uri = body["webHooksUri"]
    if not isinstance(uri, str) or not re.fullmatch(r"https?://[^\s/]+(/\S*)?", uri):
        raise _error(400, "webHooksUri must be an absolute http(s) URI")
    if body.get("authToken") is not None and not isinstance(body["authToken"], str):
        raise _error(400, "authToken must be a string")
    filters = body.get("webHooksFilter") or {}
    if not isinstance(filters, dict) or not set(filters) <= set(FILTER_FIELDS):
        raise _error(400, f"unknown webHooksFilter fields {sorted(set(filters) - set(FILTER_FIELDS))}")
    for name, value in filters.items():
        if value is not None:
            _check_filter(name, value)


def _check_filter(name: str, value: Any) -> None:
    if not isinstance(value, dict) or not set(value) <= FILTER_FIELDS[name]:
        raise _error(400, f"{name} has fields outside {sorted(FILTER_FIELDS[name])}")
    for flag in ("errors", "updates"):
        if value.get(flag) is not None and not isinstance(value[flag], bool):
            raise _error(400, f"{name}.{flag} must be a boolean")
    if not set(value.get("orderStatuses") or ()) <= STATUS_ENUMS.get(name, set()):
        raise _error(400, f"{name}.orderStatuses holds values outside the enum")
    if not set(value.get("itemStatuses") or ()) <= ITEM_STATUSES:
        raise _error(400, f"{name}.itemStatuses holds values outside OrderItemStatus")


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
