"""The iiko connector against a fake-but-real iikoCloud on loopback, and its pure mapping."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest

from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Runtime
from connectors.errors import (
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from connectors.iiko import IikoDestination, IikoTokenFetcher, customer_info, mapping, wire
from connectors.iiko.client import IikoClient
from connectors.tokens import TokenFetcher
from hub.clock import UTC, FrozenClock
from tests.connectors import iiko_server
from tests.connectors.iiko_server import IikoServer

PHONE = "+79161234567"
CREATE = wire.CUSTOMER_CREATE_OR_UPDATE
INFO = wire.CUSTOMER_INFO
TIMEOUT, GRACE = 1, 0.3  # iiko's Timeout 1 s; we give up 0.3 s later


class MemoryTokenSource:
    """Stands in for the DB-backed DbTokenSource: fetches, then caches in memory till 60 s before expiry."""

    def __init__(self, fetcher: TokenFetcher, http: aiohttp.ClientSession, clock: FrozenClock) -> None:
        self._fetcher, self._http, self._clock = fetcher, http, clock
        self._cache: dict[uuid.UUID, tuple[str, dt.datetime]] = {}

    async def token(self, connector: ConnectorConfig, *, force_refresh: bool = False) -> str:
        cached = self._cache.get(connector.id)
        if cached is not None and not force_refresh and cached[1] > self._clock.now():
            return cached[0]
        fetched = await self._fetcher.fetch(self._http, connector, None)
        lifetime = fetched.expires_in if fetched.expires_in is not None else 60.0
        self._cache[connector.id] = (
            fetched.access_token,
            self._clock.now() + dt.timedelta(seconds=lifetime - 60),
        )
        return fetched.access_token


class MemoryRefStore:
    """Stands in for the DB-backed RefStore: (connector, kind, key) → value in a dict."""

    def __init__(self) -> None:
        self.values: dict[tuple[uuid.UUID, str, str], str] = {}

    async def get(self, connector_id: uuid.UUID, kind: str, key: str) -> str | None:
        return self.values.get((connector_id, kind, key))

    async def put(self, connector_id: uuid.UUID, kind: str, key: str, value: str) -> None:
        self.values[(connector_id, kind, key)] = value


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 3, 14, 19, 30, tzinfo=UTC))


@pytest.fixture
async def server(clock: FrozenClock) -> AsyncIterator[IikoServer]:
    iiko = IikoServer(lambda: clock.now().timestamp())
    await iiko.start()
    yield iiko
    await iiko.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def runtime(http: aiohttp.ClientSession, clock: FrozenClock) -> Runtime:
    tokens = MemoryTokenSource(
        IikoTokenFetcher(clock, timeout_seconds=TIMEOUT, grace_seconds=GRACE), http, clock
    )
    return Runtime(http=http, tokens=tokens, refs=MemoryRefStore(), clock=clock)


@pytest.fixture
def destination(runtime: Runtime) -> IikoDestination:
    return IikoDestination(runtime, timeout_seconds=TIMEOUT, grace_seconds=GRACE)


def make_connector(server: IikoServer, *, personal_data: str = "full", **settings: Any) -> ConnectorConfig:
    auth = {
        "type": "iiko_api_login",
        "api_login": iiko_server.API_LOGIN,
        "organization_id": iiko_server.ORGANIZATION_ID,
    }
    return ConnectorConfig(
        id=uuid.uuid4(),
        name="Venue iiko",
        kind="iiko",
        url=server.url,
        auth=auth,
        settings=settings,
        personal_data=personal_data,
    )


def visit_envelope(
    phone: str | None = PHONE, *, visit_id: str = "v-1", member_id: str = "m-1"
) -> dict[str, Any]:
    member: dict[str, Any] = {"id": member_id, "tier_code": "gold"}
    if phone is not None:
        member["phone"] = phone
    return {
        "id": str(uuid.uuid4()),
        "type": "visit.verified",
        "occurred_at": "2026-03-14T19:30:00Z",
        "program": {"id": "p-1", "name": "PRIME"},
        "venue": {"id": "ven-1", "name": "Cafe", "partner_id": "par-1"},
        "data": {"visit_id": visit_id, "member": member, "verified_at": "2026-03-14T19:30:00Z"},
    }


def receipt_envelope(total_minor: int, *, visit_id: str = "v-1") -> dict[str, Any]:
    data = {
        "visit_id": visit_id,
        "receipt_id": "r-1",
        "check_id": "c-1",
        "items": [],
        "subtotal_minor": total_minor,
    }
    data |= {"discount_minor": 0, "total_minor": total_minor, "currency": "RUB"}
    envelope = visit_envelope() | {"type": "receipt.closed", "data": data}
    return envelope


def job_for(envelope: dict[str, Any], *, needs_reconcile: bool = False) -> DeliveryJob:
    return DeliveryJob(
        delivery_id=uuid.uuid4(),
        event_id=uuid.UUID(envelope["id"]),
        event_type=envelope["type"],
        envelope=envelope,
        attempt=1,
        needs_reconcile=needs_reconcile,
    )


# --- tokens ----------------------------------------------------------------------------------


async def test_token_fetched_once_and_cached(destination: IikoDestination, server: IikoServer) -> None:
    """Two deliveries share one /api/1/access_token call whose body is exactly {apiLogin}."""
    connector = make_connector(server)
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    await destination.deliver(
        connector, job_for(visit_envelope(member_id="m-2", phone="+79160000000")), Attempt()
    )
    token_calls = server.calls_to(wire.ACCESS_TOKEN_V1)
    assert [c.body for c in token_calls] == [{"apiLogin": iiko_server.API_LOGIN}]
    assert all(c.headers["Authorization"] == "Bearer v1-token-1" for c in server.calls_to(CREATE))


async def test_v2_token_from_api_key_lives_until_jwt_exp(
    http: aiohttp.ClientSession, server: IikoServer, clock: FrozenClock
) -> None:
    """iiko_api_key posts {apiKey, appId, clientSecret} to /api/v2 and reads the lifetime from the JWT exp."""
    auth = {"type": "iiko_api_key", "api_key": iiko_server.API_KEY, "app_id": iiko_server.APP_ID}
    auth |= {"client_secret": iiko_server.CLIENT_SECRET, "organization_id": iiko_server.ORGANIZATION_ID}
    connector = ConnectorConfig(uuid.uuid4(), "v2", "iiko", server.url, auth, {}, "full")
    fetched = await IikoTokenFetcher(clock).fetch(http, connector, None)
    assert fetched.expires_in == 3600
    assert server.calls_to(wire.ACCESS_TOKEN_V2)[0].body == {
        "apiKey": iiko_server.API_KEY,
        "appId": iiko_server.APP_ID,
        "clientSecret": iiko_server.CLIENT_SECRET,
    }


async def test_refused_api_login_is_permanent(http: aiohttp.ClientSession, server: IikoServer) -> None:
    """A wrong apiLogin is refused for good: PermanentError, not a retry."""
    connector = make_connector(server)
    connector = ConnectorConfig(**(connector.__dict__ | {"auth": connector.auth | {"api_login": "wrong"}}))
    with pytest.raises(PermanentError):
        await IikoTokenFetcher().fetch(http, connector, None)


async def test_expired_token_refreshed_once_and_retried(
    destination: IikoDestination, server: IikoServer
) -> None:
    """A 401 on an expired token fetches one new token and repeats the call once."""
    connector = make_connector(server)
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    server.expire_tokens()
    attempt = Attempt()
    await destination.deliver(connector, job_for(visit_envelope()), attempt)
    assert len(server.calls_to(wire.ACCESS_TOKEN_V1)) == 2
    assert attempt.calls[0] == f"POST {CREATE} → 401"
    assert attempt.calls[1] == f"POST {CREATE} → 200"


async def test_second_401_is_permanent_without_a_loop(
    destination: IikoDestination, server: IikoServer
) -> None:
    """When iiko refuses the fresh token too, the call stops after one retry with PermanentError."""
    server.reject_all_tokens = True
    with pytest.raises(PermanentError) as caught:
        await destination.deliver(make_connector(server), job_for(visit_envelope()), Attempt())
    assert caught.value.status_code == 401
    assert len(server.calls_to(CREATE)) == 2
    assert len(server.calls_to(wire.ACCESS_TOKEN_V1)) == 2


# --- transport -------------------------------------------------------------------------------


async def test_timeout_header_on_every_request(destination: IikoDestination, server: IikoServer) -> None:
    """Every request, the token request included, carries iiko's Timeout header in whole seconds."""
    await destination.deliver(make_connector(server), job_for(visit_envelope()), Attempt())
    assert server.calls
    assert {c.headers.get("Timeout") for c in server.calls} == {"1"}


async def test_408_on_a_read_is_transient(runtime: Runtime, server: IikoServer) -> None:
    """408 (the restaurant terminal did not answer) on customer/info is a plain TransientError."""
    server.fail(INFO, 408)
    with pytest.raises(TransientError) as caught:
        await customer_info(
            runtime, make_connector(server), phone=PHONE, timeout_seconds=TIMEOUT, grace_seconds=GRACE
        )
    assert caught.value.status_code == 408
    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_408_on_a_write_is_outcome_unknown(destination: IikoDestination, server: IikoServer) -> None:
    """408 on create_or_update may still have been applied: OutcomeUnknownError, a TransientError."""
    server.fail(CREATE, 408)
    with pytest.raises(OutcomeUnknownError) as caught:
        await destination.deliver(make_connector(server), job_for(visit_envelope()), Attempt())
    assert isinstance(caught.value, TransientError)
    assert caught.value.status_code == 408


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (500, {}, TransientError),
        (429, {"Retry-After": "7"}, RateLimitError),
        (400, {}, PermanentError),
        (403, {}, PermanentError),
    ],
)
async def test_statuses_map_to_delivery_errors(
    runtime: Runtime,
    server: IikoServer,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    """5xx is transient, 429 waits Retry-After, other 4xx are permanent."""
    server.fail(wire.CUSTOMER_CATEGORIES, status, headers=headers)
    client = IikoClient(
        runtime.http,
        runtime.tokens,
        make_connector(server),
        runtime.clock,
        timeout_seconds=TIMEOUT,
        grace_seconds=GRACE,
    )
    with pytest.raises(error) as caught:
        await client.categories(iiko_server.ORGANIZATION_ID)
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 7.0


async def test_redirect_is_not_followed(runtime: Runtime, server: IikoServer) -> None:
    """A 3xx answer is a PermanentError and its Location is never requested."""
    server.fail(wire.CUSTOMER_CATEGORIES, 307)
    client = IikoClient(
        runtime.http,
        runtime.tokens,
        make_connector(server),
        runtime.clock,
        timeout_seconds=TIMEOUT,
        grace_seconds=GRACE,
    )
    with pytest.raises(PermanentError):
        await client.categories(iiko_server.ORGANIZATION_ID)
    assert server.calls_to("/elsewhere") == []


async def test_stall_past_timeout_on_a_read_is_transient(runtime: Runtime, server: IikoServer) -> None:
    """An answer that does not come within Timeout plus grace is a TransientError."""
    server.stall(INFO, seconds=5)
    with pytest.raises(TransientError):
        await customer_info(
            runtime, make_connector(server), phone=PHONE, timeout_seconds=TIMEOUT, grace_seconds=GRACE
        )


# --- visit.verified --------------------------------------------------------------------------


async def test_create_or_update_body_shape(destination: IikoDestination, server: IikoServer) -> None:
    """The upsert sends only organizationId and phone, so an existing guest's other fields stay untouched."""
    await destination.deliver(make_connector(server), job_for(visit_envelope()), Attempt())
    first = server.calls_to(CREATE)[0].body
    assert first == {"organizationId": iiko_server.ORGANIZATION_ID, "phone": PHONE}
    guest = server.by_phone(PHONE)
    assert guest is not None
    by_id = {"type": "id", "id": guest.id, "organizationId": iiko_server.ORGANIZATION_ID}
    assert server.calls_to(INFO)[0].body == by_id


async def test_comment_mark_appended_once(
    destination: IikoDestination, server: IikoServer, runtime: Runtime
) -> None:
    """The comment gains "came through PRIME" once, beside the venue's text; refs keep iiko's id."""
    connector = make_connector(server)
    guest = iiko_server.Customer(id=str(uuid.uuid4()), phone=PHONE, comment="VIP, no nuts")
    server.customers[guest.id] = guest
    attempt = Attempt()
    await destination.deliver(connector, job_for(visit_envelope()), attempt)
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    assert guest.comment == "VIP, no nuts\ncame through PRIME"
    update = server.calls_to(CREATE)[1].body
    assert update == {"organizationId": iiko_server.ORGANIZATION_ID, "id": guest.id, "comment": guest.comment}
    assert len(server.calls_to(CREATE)) == 3  # upsert, comment, upsert (the repeat needs no comment)
    assert await runtime.refs.get(connector.id, "customer", "m-1") == guest.id
    assert "came through PRIME" in attempt.detail


async def test_category_mark(destination: IikoDestination, server: IikoServer) -> None:
    """With settings category_id the guest gets that category via customer_category/add, once."""
    category_id = server.add_category("PRIME guests")
    connector = make_connector(server, category_id=category_id)
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    guest = server.by_phone(PHONE)
    assert guest is not None
    assert guest.categories == [category_id]
    assert guest.comment is None
    assert [c.body for c in server.calls_to(wire.CUSTOMER_CATEGORY_ADD)] == [
        {"customerId": guest.id, "categoryId": category_id, "organizationId": iiko_server.ORGANIZATION_ID}
    ]


@pytest.mark.parametrize(
    ("personal_data", "phone"), [("masked", "+7916*****67"), ("none", None), ("full", None)]
)
async def test_without_full_phone_delivered_as_noop(
    destination: IikoDestination, server: IikoServer, personal_data: str, phone: str | None
) -> None:
    """Without a full phone nothing is sent to iiko and the attempt says why (delivered, not dead)."""
    attempt = Attempt()
    connector = make_connector(server, personal_data=personal_data)
    await destination.deliver(connector, job_for(visit_envelope(phone)), attempt)
    assert server.calls == []
    assert attempt.detail.startswith("delivered as a no-op:")
    assert "phone" in attempt.detail


async def test_reconcile_after_lost_upsert(destination: IikoDestination, server: IikoServer) -> None:
    """A lost upsert answer is OutcomeUnknownError; reconcile reads back whether it took."""
    connector = make_connector(server)
    job = job_for(visit_envelope())
    server.stall(CREATE, seconds=5, apply_first=False)  # the request is lost before iiko applies it
    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())
    assert await destination.reconcile(connector, job) is False
    await destination.deliver(connector, job, Attempt())
    assert await destination.reconcile(connector, job) is True


async def test_reconcile_sees_applied_mark(destination: IikoDestination, server: IikoServer) -> None:
    """When the marking write was applied but its answer lost, reconcile finds the mark and says done."""
    category_id = server.add_category("PRIME guests")
    connector = make_connector(server, category_id=category_id)
    job = job_for(visit_envelope())
    server.stall(wire.CUSTOMER_CATEGORY_ADD, seconds=5, apply_first=True)
    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())
    assert await destination.reconcile(connector, job) is True


# --- receipt.closed --------------------------------------------------------------------------


async def test_receipt_is_noop_by_default(destination: IikoDestination, server: IikoServer) -> None:
    """Without an accrual set up, receipt.closed writes nothing: iiko records the POS check itself."""
    attempt = Attempt()
    await destination.deliver(make_connector(server), job_for(receipt_envelope(150_000)), attempt)
    assert server.calls == []
    assert "POS" in attempt.detail


async def test_topup_lost_answer_is_reconciled_not_repeated(
    destination: IikoDestination, server: IikoServer
) -> None:
    """An applied but unanswered top-up is OutcomeUnknownError; reconcile finds it, a retry adds none."""
    wallet_id = server.add_wallet("PRIME points")
    connector = make_connector(server, accrual_wallet_id=wallet_id, accrual_percent=5)
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    job = job_for(receipt_envelope(123_456))
    server.stall(wire.WALLET_TOPUP, seconds=5, apply_first=True)
    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())
    assert await destination.reconcile(connector, job) is True
    retry = DeliveryJob(**(job.__dict__ | {"attempt": 2, "needs_reconcile": True}))
    await destination.deliver(connector, retry, Attempt())
    guest = server.by_phone(PHONE)
    assert guest is not None
    assert guest.wallets == {wallet_id: 61.72}
    assert len(server.calls_to(wire.WALLET_TOPUP)) == 1
    assert server.calls_to(wire.WALLET_TOPUP)[0].body == {
        "customerId": guest.id,
        "walletId": wallet_id,
        "sum": 61.72,
        "organizationId": iiko_server.ORGANIZATION_ID,
        "comment": f"coalition-hub event {job.event_id}",
    }


async def test_topup_lost_before_applied_reconciles_false(
    destination: IikoDestination, server: IikoServer
) -> None:
    """A top-up lost before iiko applied it reconciles False, so the retry may top up once."""
    wallet_id = server.add_wallet("PRIME points")
    connector = make_connector(server, accrual_wallet_id=wallet_id, accrual_percent="10")
    await destination.deliver(connector, job_for(visit_envelope()), Attempt())
    job = job_for(receipt_envelope(10_000))
    server.stall(wire.WALLET_TOPUP, seconds=5, apply_first=False)
    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())
    assert await destination.reconcile(connector, job) is False
    await destination.deliver(connector, DeliveryJob(**(job.__dict__ | {"needs_reconcile": True})), Attempt())
    guest = server.by_phone(PHONE)
    assert guest is not None
    assert guest.wallets == {wallet_id: 10.0}


# --- customer_info for delegated venue programs ----------------------------------------------


async def test_customer_info_maps_category_and_balance(runtime: Runtime, server: IikoServer) -> None:
    """customer_info returns the guest's active category as tier and the bonus wallets' balance."""
    gold = server.add_category("Gold 10%")
    bonus = server.add_wallet("Bonuses", program_type=1)
    deposit = server.add_wallet("Deposit", program_type=0)
    guest = iiko_server.Customer(id=str(uuid.uuid4()), phone=PHONE, name="Anna", categories=[gold])
    guest.wallets = {bonus: 250.5, deposit: 1000.0}
    server.customers[guest.id] = guest
    info = await customer_info(
        runtime, make_connector(server), phone=PHONE, timeout_seconds=TIMEOUT, grace_seconds=GRACE
    )
    assert info == mapping.IikoCustomerInfo(
        customer_id=guest.id,
        name="Anna",
        tier="Gold 10%",
        categories=("Gold 10%",),
        bonus_balance=Decimal("250.50"),
        wallets=(("Bonuses", Decimal("250.50")), ("Deposit", Decimal("1000.00"))),
    )


async def test_customer_info_unknown_guest_is_none(runtime: Runtime, server: IikoServer) -> None:
    """A phone iiko does not know gives None, not an error."""
    assert (
        await customer_info(
            runtime, make_connector(server), phone=PHONE, timeout_seconds=TIMEOUT, grace_seconds=GRACE
        )
        is None
    )


# --- mapping (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("personal_data", "phone", "expected"),
    [
        ("full", PHONE, mapping.VisitPlan("m-1", "v-1", PHONE, "came through PRIME")),
        ("full", None, mapping.Skip("the member has no full phone number: iiko finds guests by phone")),
        (
            "full",
            "+7916*****67",
            mapping.Skip("the member has no full phone number: iiko finds guests by phone"),
        ),
        (
            "masked",
            "+7916*****67",
            mapping.Skip("personal_data is 'masked': iiko finds guests by their full phone"),
        ),
        ("none", None, mapping.Skip("personal_data is 'none': iiko finds guests by their full phone")),
    ],
)
def test_visit_plan(personal_data: str, phone: str | None, expected: object) -> None:
    """A visit becomes an upsert plan only with a full E.164 phone under personal_data "full"."""
    assert mapping.visit_plan(visit_envelope(phone), personal_data) == expected


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, "came through PRIME"),
        ("", "came through PRIME"),
        ("VIP", "VIP\ncame through PRIME"),
        ("VIP\ncame through PRIME", None),
        ("came through PRIME", None),
        ("came through PRIMEVAL", "came through PRIMEVAL\ncame through PRIME"),
    ],
)
def test_merged_comment(existing: str | None, expected: str | None) -> None:
    """The mark is appended as its own line, once, keeping what the venue wrote."""
    assert mapping.merged_comment(existing, "came through PRIME") == expected


@pytest.mark.parametrize(
    ("total_minor", "percent", "expected"),
    [(123_456, "5", "61.72"), (10_000, "10", "10.00"), (1, "5", "0.00"), (99_999, "2.5", "24.99")],
)
def test_accrual_sum(total_minor: int, percent: str, expected: str) -> None:
    """Accrual is percent of the total in major units, rounded down to kopecks."""
    assert mapping.accrual_sum(total_minor, Decimal(percent)) == Decimal(expected)


def test_wire_bodies_spelled_as_iiko() -> None:
    """Requests encode with iiko's camelCase names, the info discriminator first, and no null fields."""
    plan = mapping.VisitPlan("m-1", "v-1", PHONE, "came through PRIME")
    assert msgspec.json.decode(msgspec.json.encode(mapping.upsert_by_phone(plan, "org"))) == {
        "organizationId": "org",
        "phone": PHONE,
    }
    by_track = wire.CustomerInfoByCardTrack(card_track="123", organization_id="org")
    assert msgspec.json.encode(by_track) == b'{"type":"cardTrack","cardTrack":"123","organizationId":"org"}'
    token = msgspec.json.encode(wire.AccessTokenV2Request(api_key="k", app_id="a", client_secret="s"))
    assert token == b'{"apiKey":"k","appId":"a","clientSecret":"s"}'


def test_is_marked_by_category_or_comment() -> None:
    """A guest is marked when they carry the configured category, or else the comment line."""
    info = wire.CustomerInfoResponse(
        id="c", comment="came through PRIME", categories=[wire.GuestCategoryShortInfo(id="CAT-1")]
    )
    assert mapping.is_marked(info, "came through PRIME", None)
    assert mapping.is_marked(info, "came through PRIME", "cat-1")
    assert not mapping.is_marked(info, "came through PRIME", "cat-2")
    assert not mapping.is_marked(info, "came through OTHER", None)


def test_settings_need_an_organization() -> None:
    """A connector without organization_id is a configuration error."""
    with pytest.raises(ValueError, match="organization_id"):
        mapping.settings_of({"type": "iiko_api_login", "api_login": "x"}, {})
