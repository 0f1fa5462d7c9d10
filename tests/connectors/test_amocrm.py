"""The amoCRM destination against a fake-but-real amoCRM on loopback, and its pure mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from connectors.amocrm import AmoCrmDestination, mapping, wire
from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Runtime
from connectors.errors import (
    GoneError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from hub.clock import UTC, FrozenClock
from tests.connectors.amocrm_server import RATE_WINDOW, AmoCrmServer, Stall

PHONE = "+79161234567"
PROGRAM = {"id": str(uuid.UUID(int=1)), "name": "Гастрокарта"}
VENUE = {"id": str(uuid.UUID(int=2)), "name": "Пельменная №1", "partner_id": str(uuid.UUID(int=3))}


class TestTokens:
    """Stand-in for the DB-backed, rotation-safe TokenSource: at-1, then at-N+1 per forced refresh.

    Each token it hands out is registered with the fake server, as a real authorization server would.
    """

    __test__ = False

    def __init__(self, server: AmoCrmServer) -> None:
        self.server = server
        self.issued = 0
        self.refreshes = 0
        self.current = self._issue()

    def _issue(self) -> str:
        self.issued += 1
        token = f"at-{self.issued}"
        self.server.valid_tokens.add(token)
        return token

    async def token(self, connector: ConnectorConfig, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.refreshes += 1
            self.current = self._issue()
        return self.current


class MemoryRefs:
    """Stand-in for the DB-backed RefStore: the same get/put, in a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[uuid.UUID, str, str], str] = {}

    async def get(self, connector_id: uuid.UUID, kind: str, key: str) -> str | None:
        return self.items.get((connector_id, kind, key))

    async def put(self, connector_id: uuid.UUID, kind: str, key: str, value: str) -> None:
        self.items[(connector_id, kind, key)] = value


@pytest.fixture
async def server() -> AsyncIterator[AmoCrmServer]:
    amo = AmoCrmServer()
    await amo.start()
    yield amo
    await amo.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def tokens(server: AmoCrmServer) -> TestTokens:
    return TestTokens(server)


@pytest.fixture
def refs() -> MemoryRefs:
    return MemoryRefs()


@pytest.fixture
def destination(http: aiohttp.ClientSession, tokens: TestTokens, refs: MemoryRefs) -> AmoCrmDestination:
    clock = FrozenClock(dt.datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    return AmoCrmDestination(Runtime(http=http, tokens=tokens, refs=refs, clock=clock))


def connector_for(
    server: AmoCrmServer, *, personal_data: str = "full", timeout: float = 5.0
) -> ConnectorConfig:
    """A fresh connector (own id, so its own rate limiter) pointed at the fake account."""
    return ConnectorConfig(
        id=uuid.uuid4(),
        name="amo",
        kind="amocrm",
        url=server.url,
        auth={
            "type": "oauth2_refresh_token",
            "token_url": f"{server.url}/oauth2/access_token",
            "client_id": "client",
            "client_secret": "secret",
            "refresh_token": "rt-1",
            "extra_params": {"redirect_uri": "https://hub.example/amocrm/callback"},
        },
        settings={"timeout_seconds": timeout},
        personal_data=personal_data,
    )


def envelope(event_type: str, data: dict[str, Any], event_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": event_type,
        "occurred_at": "2025-03-01T12:00:00Z",
        "program": PROGRAM,
        "venue": VENUE,
        "data": data,
    }


def visit_job(
    *, phone: str | None = PHONE, visit_id: uuid.UUID | None = None, attempt: int = 1, reconcile: bool = False
) -> DeliveryJob:
    member: dict[str, Any] = {"id": str(uuid.uuid4()), "tier_code": "gold"}
    if phone is not None:
        member["phone"] = phone
    data = {
        "visit_id": str(visit_id or uuid.uuid4()),
        "member": member,
        "verified_at": "2025-03-01T12:00:00Z",
    }
    return job_for(envelope("visit.verified", data), attempt=attempt, reconcile=reconcile)


def receipt_job(visit_id: uuid.UUID, receipt_id: uuid.UUID) -> DeliveryJob:
    data = {
        "visit_id": str(visit_id),
        "receipt_id": str(receipt_id),
        "check_id": "A-17",
        "items": [],
        "subtotal_minor": 250000,
        "discount_minor": 25000,
        "total_minor": 225000,
        "currency": "RUB",
    }
    return job_for(envelope("receipt.closed", data))


def job_for(env: dict[str, Any], *, attempt: int = 1, reconcile: bool = False) -> DeliveryJob:
    return DeliveryJob(
        delivery_id=uuid.uuid4(),
        event_id=uuid.UUID(env["id"]),
        event_type=env["type"],
        envelope=env,
        attempt=attempt,
        needs_reconcile=reconcile,
    )


def again(job: DeliveryJob, *, reconcile: bool = False) -> DeliveryJob:
    return dataclasses.replace(job, attempt=job.attempt + 1, needs_reconcile=reconcile)


# delivering


async def test_contact_found_by_phone_gets_a_note_with_the_event_id(
    server: AmoCrmServer, destination: AmoCrmDestination, refs: MemoryRefs
) -> None:
    """A contact whose PHONE reads "+7 (916) 123-45-67" is found for +79161234567 and noted; none created."""
    contact_id = server.add_contact("Анна", "+7 (916) 123-45-67")
    connector = connector_for(server)
    job = visit_job()

    await destination.deliver(connector, job, Attempt())

    [note] = server.notes_on(contact_id)
    assert note["note_type"] == "common"
    assert f"[coalition-hub event {job.event_id}]" in note["params"]["text"]
    assert "Гастрокарта" in note["params"]["text"]
    assert server.calls_to("contacts.create") == []
    assert server.calls_to("contacts.search")[0].query["query"] == "9161234567"
    assert refs.items[(connector.id, "contact", hashlib.sha256(PHONE.encode()).hexdigest())] == str(
        contact_id
    )


async def test_missing_contact_is_created_with_the_phone_then_noted(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """No contact matches: one is created with the phone as a mobile PHONE value, and the note goes on it."""
    connector = connector_for(server)
    job = visit_job()

    await destination.deliver(connector, job, Attempt())

    [create] = server.calls_to("contacts.create")
    assert create.body[0]["custom_fields_values"] == [
        {"field_code": "PHONE", "values": [{"value": PHONE, "enum_code": "MOB"}]}
    ]
    [contact_id] = server.contacts
    [note] = server.notes_on(contact_id)
    assert str(job.event_id) in note["params"]["text"]


async def test_a_second_visit_of_the_same_phone_uses_the_cached_contact(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """The contact id is cached in refs by the phone's hash: the second visit searches nothing."""
    connector = connector_for(server)
    await destination.deliver(connector, visit_job(), Attempt())
    await destination.deliver(connector, visit_job(), Attempt())

    assert len(server.calls_to("contacts.search")) == 1
    assert len(server.contacts) == 1
    assert len(server.notes) == 2


async def test_refs_and_the_delivery_log_never_hold_the_phone(
    server: AmoCrmServer, destination: AmoCrmDestination, refs: MemoryRefs
) -> None:
    """Neither the refs keys and values nor the attempt's call log contain the phone's digits."""
    connector = connector_for(server)
    attempt = Attempt()
    await destination.deliver(connector, visit_job(), attempt)

    stored = " ".join(f"{kind} {key} {value}" for (_, kind, key), value in refs.items.items())
    assert "9161234567" not in stored
    assert "9161234567" not in " ".join(attempt.calls)
    assert attempt.calls[0] == "GET /api/v4/contacts"


async def test_the_same_event_twice_writes_one_note(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """Delivering an event again (a replay, a retry) finds its note in refs and writes nothing."""
    connector = connector_for(server)
    job = visit_job()

    await destination.deliver(connector, job, Attempt())
    attempt = Attempt()
    await destination.deliver(connector, again(job), attempt)

    assert len(server.notes) == 1
    assert len(server.calls_to("notes.create")) == 1
    assert attempt.calls == []


async def test_a_retry_reads_back_before_writing(
    server: AmoCrmServer, destination: AmoCrmDestination, refs: MemoryRefs
) -> None:
    """A retry whose note reached amoCRM but not refs (the process died in between) writes no second note."""
    connector = connector_for(server)
    job = visit_job()
    await destination.deliver(connector, job, Attempt())
    refs.items.pop((connector.id, "note", str(job.event_id)))

    await destination.deliver(connector, again(job), Attempt())

    assert len(server.notes) == 1
    assert len(server.calls_to("notes.list")) == 1


async def test_stall_after_the_note_is_written_then_reconcile_finds_it(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """A note POST that times out is OutcomeUnknownError; reconcile finds the note; no second is written."""
    connector = connector_for(server, timeout=0.3)
    job = visit_job()
    server.stalls.append(Stall("notes.create", applies=True))

    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())

    assert await destination.reconcile(connector, job) is True
    await destination.deliver(connector, again(job, reconcile=True), Attempt())
    assert len(server.notes) == 1
    assert len(server.calls_to("notes.create")) == 1


async def test_stall_before_the_note_is_written_then_reconcile_finds_nothing(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """When the stalled POST wrote nothing, reconcile says so and the retry writes exactly one note."""
    connector = connector_for(server, timeout=0.3)
    job = visit_job()
    server.stalls.append(Stall("notes.create", applies=False))

    with pytest.raises(OutcomeUnknownError):
        await destination.deliver(connector, job, Attempt())

    assert server.notes == []
    assert await destination.reconcile(connector, job) is False
    await destination.deliver(connector, again(job, reconcile=True), Attempt())
    [note] = server.notes
    assert str(job.event_id) in note["params"]["text"]


async def test_reconcile_without_a_known_contact_writes_nothing(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """Reconcile only reads: with no contact for the phone it answers False and creates none."""
    connector = connector_for(server)

    assert await destination.reconcile(connector, visit_job()) is False
    assert server.contacts == {}
    assert [c.route for c in server.calls] == ["contacts.search"]


async def test_a_stalled_search_is_transient_not_unknown(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """A GET that times out changed nothing: TransientError, not OutcomeUnknownError."""
    connector = connector_for(server, timeout=0.3)
    server.stalls.append(Stall("contacts.search", applies=False))

    with pytest.raises(TransientError) as caught:
        await destination.deliver(connector, visit_job(), Attempt())

    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_receipt_and_refund_follow_the_visit_to_its_contact(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """receipt.closed (no phone) lands on its visit's contact, and receipt.refunded on the same."""
    connector = connector_for(server)
    visit_id, receipt_id = uuid.uuid4(), uuid.uuid4()
    await destination.deliver(connector, visit_job(visit_id=visit_id), Attempt())
    await destination.deliver(connector, receipt_job(visit_id, receipt_id), Attempt())
    refund = envelope(
        "receipt.refunded",
        {"receipt_id": str(receipt_id), "amount_minor": 10000, "reason": "ошибка", "currency": "RUB"},
    )
    await destination.deliver(connector, job_for(refund), Attempt())

    [contact_id] = server.contacts
    texts = [n["params"]["text"] for n in server.notes_on(contact_id)]
    assert len(texts) == 3
    assert "Чек A-17" in texts[1]
    assert "итого 2 250.00 RUB" in texts[1]
    assert "Возврат по чеку в «Пельменная №1»: 100.00 RUB." in texts[2]


async def test_receipt_of_an_unknown_visit_is_permanent(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """A receipt whose visit was never delivered here has no contact: PermanentError, nothing sent."""
    connector = connector_for(server)

    with pytest.raises(PermanentError, match=r"visit\.verified was not delivered"):
        await destination.deliver(connector, receipt_job(uuid.uuid4(), uuid.uuid4()), Attempt())

    assert server.calls == []


@pytest.mark.parametrize(("level", "phone"), [("masked", "+7916***4567"), ("none", None)])
async def test_without_the_phone_there_is_no_contact(
    server: AmoCrmServer, destination: AmoCrmDestination, level: str, phone: str | None
) -> None:
    """Below "full" there is no phone: PermanentError naming the level; a masked phone is never searched."""
    connector = connector_for(server, personal_data=level)

    with pytest.raises(PermanentError, match=f"personal_data is '{level}'"):
        await destination.deliver(connector, visit_job(phone=phone), Attempt())

    assert server.calls == []


async def test_event_types_without_a_note_are_delivered_as_nothing(
    server: AmoCrmServer, destination: AmoCrmDestination
) -> None:
    """An event type amoCRM gets no note for is done at once, without a call."""
    attempt = Attempt()
    await destination.deliver(connector_for(server), job_for(envelope("member.updated", {})), attempt)

    assert server.calls == []
    assert "no note" in attempt.detail


# auth, limits and failures


async def test_401_once_means_one_refresh_and_one_retry(
    server: AmoCrmServer, destination: AmoCrmDestination, tokens: TestTokens
) -> None:
    """A revoked access token earns one 401, one forced refresh, and the same request with the new token."""
    server.valid_tokens.discard(tokens.current)

    await destination.deliver(connector_for(server), visit_job(), Attempt())

    assert tokens.refreshes == 1
    first, second = server.calls[:2]
    assert (first.route, first.token, first.status) == ("contacts.search", "at-1", 401)
    assert (second.route, second.token, second.status) == ("contacts.search", "at-2", 204)
    assert len(server.notes) == 1


async def test_401_after_the_refresh_is_permanent_without_a_loop(
    server: AmoCrmServer, destination: AmoCrmDestination, tokens: TestTokens
) -> None:
    """A server that refuses every token gets exactly two requests and one refresh, then PermanentError."""
    server.valid_tokens.clear()
    tokens.server = AmoCrmServer()  # new tokens are registered elsewhere: this account refuses them all

    with pytest.raises(PermanentError) as caught:
        await destination.deliver(connector_for(server), visit_job(), Attempt())

    assert caught.value.status_code == 401
    assert tokens.refreshes == 1
    assert [c.status for c in server.calls] == [401, 401]


@pytest.mark.parametrize(("headers", "expected"), [({}, 1.0), ({"Retry-After": "3"}, 3.0)])
async def test_429_is_a_rate_limit_error(
    server: AmoCrmServer, destination: AmoCrmDestination, headers: dict[str, str], expected: float
) -> None:
    """429 is RateLimitError, waiting as Retry-After says, or 1 s when amoCRM sends none."""
    server.fail_next.append((429, headers))

    with pytest.raises(RateLimitError) as caught:
        await destination.deliver(connector_for(server), visit_job(), Attempt())

    assert caught.value.retry_after == expected
    assert caught.value.status_code == 429


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientError),
        (503, TransientError),
        (408, TransientError),
        (400, PermanentError),
        (403, PermanentError),
        (404, PermanentError),
        (410, GoneError),
    ],
)
async def test_failures_map_to_the_error_tree(
    server: AmoCrmServer, destination: AmoCrmDestination, status: int, error: type[Exception]
) -> None:
    """5xx and 408 are transient, 410 gone, other 4xx permanent; the message carries the problem detail."""
    server.fail_next.append((status, {}))

    with pytest.raises(error) as caught:
        await destination.deliver(connector_for(server), visit_job(), Attempt())

    assert type(caught.value) is error
    if error is PermanentError:
        assert "the test asked for" in str(caught.value)


async def test_redirects_are_not_followed(server: AmoCrmServer, destination: AmoCrmDestination) -> None:
    """A 302 is PermanentError and its Location is never requested."""
    server.fail_next.append((302, {"Location": f"{server.url}/api/v4/contacts?query=elsewhere"}))

    with pytest.raises(PermanentError, match="redirect"):
        await destination.deliver(connector_for(server), visit_job(), Attempt())

    assert len(server.calls) == 1


async def test_connection_refused_is_transient(destination: AmoCrmDestination, server: AmoCrmServer) -> None:
    """Nothing listening: TransientError (nothing was sent, so not OutcomeUnknownError)."""
    connector = connector_for(server)
    await server.stop()

    with pytest.raises(TransientError) as caught:
        await destination.deliver(connector, visit_job(), Attempt())

    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_rate_limiter_keeps_7_requests_per_second_over_a_burst(
    server: AmoCrmServer, destination: AmoCrmDestination, refs: MemoryRefs
) -> None:
    """30 deliveries at once reach amoCRM at most 7 in any second (server clock), and none gets 429."""
    connector = connector_for(server)
    contact_id = server.add_contact("Анна", PHONE)
    await refs.put(connector.id, "contact", mapping.phone_key(PHONE), str(contact_id))

    await asyncio.gather(*(destination.deliver(connector, visit_job(), Attempt()) for _ in range(30)))

    arrivals = sorted(c.at for c in server.calls)
    assert len(arrivals) == 30
    busiest = max(sum(1 for t in arrivals if start <= t < start + RATE_WINDOW) for start in arrivals)
    assert busiest <= 7
    assert all(c.status == 200 for c in server.calls)
    assert len(server.notes_on(contact_id)) == 30


async def test_the_server_enforces_its_limit(server: AmoCrmServer, http: aiohttp.ClientSession) -> None:
    """The fake amoCRM itself answers 429 to the 8th request within a second (so the limiter test bites)."""
    server.valid_tokens.add("t")
    statuses = []
    for _ in range(8):
        async with http.get(
            f"{server.url}/api/v4/contacts", headers={"Authorization": "Bearer t"}
        ) as response:
            statuses.append(response.status)

    assert statuses == [204] * 7 + [429]


# mapping (pure)


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        (
            "visit.verified",
            {"member": {"tier_code": "gold"}},
            "Визит по программе «Гастрокарта» в «Пельменная №1»",
        ),
        (
            "receipt.closed",
            {
                "check_id": "A-1",
                "subtotal_minor": 100000,
                "discount_minor": 10000,
                "total_minor": 90000,
                "currency": "RUB",
            },
            "Чек A-1 в «Пельменная №1» по программе «Гастрокарта»: "
            "сумма 1 000.00 RUB, скидка 100.00 RUB, итого 900.00 RUB.",
        ),
        (
            "receipt.refunded",
            {"amount_minor": 5050, "reason": "брак", "currency": "RUB"},
            "50.50 RUB. Причина: брак.",
        ),
        (
            "referral.visited",
            {"referral_id": "r", "visit_id": "v"},
            "приглашённый гость пришёл в «Пельменная №1»",
        ),
        (
            "visit.cancelled",
            {"visit_id": "v", "reason": "Гость ушёл"},
            "в «Пельменная №1» отменён, без чека. Причина: Гость ушёл.",
        ),
    ],
)
def test_note_text_per_event_type(event_type: str, data: dict[str, Any], expected: str) -> None:
    """Each event type reads as one line for the staff, then the event marker on its own line."""
    event_id = uuid.UUID(int=7)
    text = mapping.note_text(envelope(event_type, data, event_id), event_id)

    headline, marker = text.split("\n")
    assert expected in headline
    assert marker == "[coalition-hub event 00000000-0000-0000-0000-000000000007]"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (0, "RUB", "0.00 RUB"),
        (5, "RUB", "0.05 RUB"),
        (123456789, "RUB", "1 234 567.89 RUB"),
        (-2550, "EUR", "-25.50 EUR"),
        (1500, "JPY", "1 500 JPY"),
        (None, "RUB", "—"),
    ],
)
def test_money(amount: int | None, currency: str, expected: str) -> None:
    """Minor units print with the currency's exponent and thin grouping; a missing amount is a dash."""
    assert mapping.money(amount, currency) == expected


@pytest.mark.parametrize(
    ("stored", "phone", "expected"),
    [
        ("+7 (916) 123-45-67", PHONE, True),
        ("8 916 123 45 67", PHONE, True),
        ("79161234567", PHONE, True),
        ("+7 916 123-45-68", PHONE, False),
        ("123", PHONE, False),
    ],
)
def test_phones_match(stored: str, phone: str, expected: bool) -> None:
    """Phones match on their last ten digits, whatever the formatting or the 8/+7 prefix."""
    assert mapping.phones_match(stored, phone) is expected


def _contact(contact_id: int, field_code: str, value: str, *, deleted: bool = False) -> wire.Contact:
    field = wire.CustomField(field_code=field_code, values=[wire.CustomFieldValue(value=value)])
    return wire.Contact(id=contact_id, custom_fields_values=[field], is_deleted=deleted)


def test_matching_contact_wants_the_phone_field_and_the_oldest() -> None:
    """Only a PHONE value counts (query also hits other fields); deleted ones are skipped; lowest id wins."""
    contacts = [
        _contact(5, "POSITION", PHONE),
        _contact(9, "PHONE", "+7 916 123 45 67"),
        _contact(7, "PHONE", "89161234567"),
        _contact(3, "PHONE", PHONE, deleted=True),
    ]
    assert mapping.matching_contact(contacts, PHONE) == 7
    assert mapping.matching_contact(contacts[:1], PHONE) is None


@pytest.mark.parametrize(
    ("level", "member", "expected"),
    [
        ("full", {"phone": PHONE}, PHONE),
        ("masked", {"phone": "+7916***4567"}, None),
        ("full", {"phone": "+7916***4567"}, None),
        ("none", {}, None),
        ("full", {}, None),
    ],
)
def test_member_phone(level: str, member: dict[str, Any], expected: str | None) -> None:
    """Only a "full" connector's unmasked phone is used; anything else gives no phone."""
    assert mapping.member_phone({"data": {"member": member}}, level) == expected


def test_phone_key_is_the_sha256_of_the_phone() -> None:
    """refs are keyed by sha256(E.164), never the number."""
    key = mapping.phone_key(PHONE)
    assert key == hashlib.sha256(b"+79161234567").hexdigest()
    assert "9161234567" not in key


def test_new_contact_wire_shape() -> None:
    """The contact POSTed holds the phone as a mobile PHONE value, the program's name and tag, no nulls."""
    contact = mapping.new_contact(PHONE, envelope("visit.verified", {}))

    assert msgspec.json.decode(msgspec.json.encode([contact])) == [
        {
            "name": "Гость программы «Гастрокарта»",
            "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": PHONE, "enum_code": "MOB"}]}
            ],
            "_embedded": {"tags": [{"name": "Гастрокарта"}]},
        }
    ]


def test_note_wire_shape() -> None:
    """The note POSTed is a common note with params.text and the contact as entity_id."""
    event_id = uuid.UUID(int=9)
    note = mapping.note_for(envelope("referral.visited", {}, event_id), event_id, 42)

    [decoded] = msgspec.json.decode(msgspec.json.encode([note]))
    assert decoded["note_type"] == "common"
    assert decoded["entity_id"] == 42
    assert decoded["params"]["text"].endswith(f"[coalition-hub event {event_id}]")


def test_find_event_note_reads_notes_as_amocrm_sends_them() -> None:
    """A notes page decodes (params as an object or PHP's empty []) and the marked note is found."""
    event_id = uuid.UUID(int=11)
    page = {
        "_embedded": {
            "notes": [
                {"id": 3, "note_type": "common", "params": []},
                {"id": 2, "note_type": "common", "params": {"text": "hello"}},
                {"id": 1, "note_type": "common", "params": {"text": f"x\n{mapping.event_marker(event_id)}"}},
            ]
        }
    }
    notes = msgspec.json.decode(msgspec.json.encode(page), type=wire.NotesPage).embedded.notes

    assert mapping.find_event_note(notes, event_id) == 1
    assert mapping.find_event_note(notes, uuid.UUID(int=12)) is None


def test_contact_links() -> None:
    """A receipt is looked up by its receipt, then its visit; a refund by its receipt."""
    assert mapping.contact_links({"data": {"visit_id": "v", "receipt_id": "r"}}) == [
        ("receipt", "r"),
        ("visit", "v"),
    ]
    assert mapping.contact_links({"data": {"receipt_id": "r"}}) == [("receipt", "r")]
    assert mapping.contact_links({"data": {}}) == []
