"""Fan-out through the outbox: routed, signed, cut to each connector's personal data, retried, never lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update

from connectors.base import ConnectorConfig, Runtime
from connectors.contract import EVENTS
from connectors.models import Delivery, DeliveryAttempt
from connectors.outbox.dispatcher import Dispatcher, DispatchSettings
from connectors.refs import DbRefStore
from connectors.runtime import build_destinations
from hub.clock import Clock, SystemClock
from hub.db import Database
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING, error_of
from tests.connectors.crm import Crm, running_crm
from tests.flow.conftest import World, receipt_body, world

__all__ = ["world"]  # the guest-flow world fixture, used here too

FAST = DispatchSettings(
    poll_seconds=0.02, backoff_base_seconds=0.01, backoff_cap_seconds=0.05, lease_seconds=60
)


class NoTokens:
    """Connectors in these tests use auth "none" (signature only): asking for a token is a test bug."""

    async def token(self, connector: ConnectorConfig, *, force_refresh: bool = False) -> str:
        raise AssertionError("no token source in these tests")


def make_dispatcher(
    db: Database, app: Litestar, settings: DispatchSettings = FAST, clock: Clock | None = None
) -> Dispatcher:
    """A dispatcher on the wall clock (retries fall due in real time), unless told otherwise."""
    runtime = Runtime(http=app.state.http, tokens=NoTokens(), refs=DbRefStore(db), clock=SystemClock())
    return Dispatcher(db, TEST_KEYRING, clock or SystemClock(), build_destinations(runtime), settings)


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    async with running_crm() as server:
        yield server


async def connect(
    client: httpx.AsyncClient, crm: Crm, owner: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {
        "name": builders.unique("CRM"),
        "kind": "rest",
        "owner": owner,
        "url": crm.url,
        "auth": {"type": "none"},
        **fields,
    }
    response = await client.post("/v1/connectors", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    crm.secrets.append(created["signing_secret"])
    return created


async def open_deliveries(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count(Delivery.id)).where(Delivery.status.in_(("pending", "retrying")))
            )
            or 0
        )


async def deliver_all(dispatcher: Dispatcher, db: Database, seconds: float = 10.0) -> None:
    """Run the dispatcher until no delivery is open (bounded in time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await open_deliveries(db):
        assert asyncio.get_running_loop().time() < deadline, "deliveries still open"
        await dispatcher.run_until_idle()
        await asyncio.sleep(0.02)


async def flow(world: World, check_id: str = "C-1") -> None:
    visit_id = await world.verified_visit()
    receipt = await world.client.post(
        f"/v1/visits/{visit_id}/receipt", json=receipt_body(check_id), headers=world.till
    )
    assert receipt.status_code == 201, receipt.text


async def test_program_connector_gets_signed_events_in_order(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """The coalition CRM gets visit.verified then receipt.closed, signed, with the phone at level full."""
    await connect(world.client, crm, {"program_id": world.program["id"]}, personal_data="full")
    await flow(world)
    await deliver_all(make_dispatcher(db, app), db)
    assert crm.types() == ["visit.verified", "receipt.closed"]
    visit = crm.received[0]
    assert visit["program"]["id"] == world.program["id"]
    assert visit["venue"]["id"] == world.venue["id"]
    assert visit["data"]["member"]["phone"].startswith("+7916")
    assert crm.headers[0]["webhook-id"] == visit["id"]
    assert crm.bad_signatures == 0
    for envelope in crm.received:  # what was sent is what openapi/crm-events.json promises
        msgspec.convert(envelope, EVENTS[envelope["type"]], strict=False)


async def test_personal_data_is_cut_per_connector(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """A venue connector with masked data sees a masked phone; with none, no phone at all."""
    async with running_crm() as other:
        await connect(world.client, crm, {"venue_id": world.venue["id"]}, personal_data="masked")
        await connect(world.client, other, {"venue_id": world.venue["id"]}, personal_data="none")
        await flow(world)
        await deliver_all(make_dispatcher(db, app), db)
        assert crm.received[0]["data"]["member"]["phone"].startswith("+7 *** ***-")
        assert "phone" not in other.received[0]["data"]["member"]
        assert other.received[0]["data"]["member"]["tier_code"] == "silver"


async def test_events_go_only_where_routed(world: World, crm: Crm, db: Database, app: Litestar) -> None:
    """Another venue's connector and another program's connector get nothing; subscriptions filter types."""
    async with running_crm() as elsewhere, running_crm() as receipts_only:
        other_venue = await builders.venue(world.client, world.partner)
        other_program = await builders.program(world.client, card_rules=[{"type": "prefix", "value": "44"}])
        await connect(world.client, elsewhere, {"venue_id": other_venue["id"]})
        await connect(world.client, crm, {"program_id": other_program["id"]})
        await connect(world.client, receipts_only, {"venue_id": world.venue["id"]}, events=["receipt.closed"])
        await flow(world)
        await deliver_all(make_dispatcher(db, app), db)
        assert elsewhere.received == []
        assert crm.received == []
        assert receipts_only.types() == ["receipt.closed"]


async def test_transient_failures_are_retried_and_logged(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """500, 503 then success: delivered on the third attempt; every attempt is in the log."""
    failures = [(500, {}), (503, {"Retry-After": "0"})]
    crm.fail = lambda envelope: failures.pop(0) if failures else None
    connector = await connect(
        world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"]
    )
    await world.verified_visit()
    await deliver_all(make_dispatcher(db, app), db)
    assert crm.types() == ["visit.verified"]
    listing = await world.client.get(f"/v1/deliveries?connector_id={connector['id']}", headers=ADMIN)
    (delivery,) = listing.json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    detail = (await world.client.get(f"/v1/deliveries/{delivery['id']}", headers=ADMIN)).json()
    assert [a["outcome"] for a in detail["attempt_log"]] == ["transient", "transient", "delivered"]
    assert [a["status_code"] for a in detail["attempt_log"]][:2] == [500, 503]


async def test_rate_limit_waits_and_does_not_count(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """429 with Retry-After is waited out and not counted as a failed attempt."""
    failures = [(429, {"Retry-After": "1"})]
    crm.fail = lambda envelope: failures.pop(0) if failures else None
    await connect(world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"])
    await world.verified_visit()
    dispatcher = make_dispatcher(db, app)
    await dispatcher.run_until_idle()
    async with db.sessionmaker() as session:
        delivery = (await session.scalars(select(Delivery))).one()
    assert (delivery.status, delivery.attempts) == ("retrying", 0)
    assert delivery.next_attempt_at > SystemClock().now() + dt.timedelta(seconds=0.5)
    await deliver_all(dispatcher, db)
    assert crm.types() == ["visit.verified"]


async def test_permanent_failure_is_dead_then_retried_by_an_operator(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """A 400 is dead at once; POST /retry after the CRM is fixed delivers it."""
    crm.fail = lambda envelope: (400, {})
    await connect(world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"])
    await world.verified_visit()
    await deliver_all(make_dispatcher(db, app), db)
    dead = (await world.client.get("/v1/deliveries?status=dead", headers=ADMIN)).json()["items"]
    assert len(dead) == 1
    crm.fail = None
    retried = await world.client.post(f"/v1/deliveries/{dead[0]['id']}/retry", headers=ADMIN)
    assert retried.status_code == 202
    await deliver_all(make_dispatcher(db, app), db)
    assert crm.types() == ["visit.verified"]


async def test_gone_disables_the_connector(world: World, crm: Crm, db: Database, app: Litestar) -> None:
    """410 Gone disables the connector: later events are not even queued for it."""
    crm.fail = lambda envelope: (410, {})
    connector = await connect(
        world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"]
    )
    await world.verified_visit()
    await deliver_all(make_dispatcher(db, app), db)
    state = (await world.client.get(f"/v1/connectors/{connector['id']}", headers=ADMIN)).json()
    assert state["status"] == "disabled"
    assert "410" in state["status_reason"]


async def test_circuit_breaker_pauses_then_a_probe_resumes(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """Failing past the breaker time pauses a connector (visible); then a probe resumes it and it drains."""
    crm.fail = lambda envelope: (503, {})
    connector = await connect(world.client, crm, {"program_id": world.program["id"]})
    settings = DispatchSettings(
        poll_seconds=0.02,
        backoff_base_seconds=0.01,
        backoff_cap_seconds=0.02,
        breaker_after_seconds=0.0,
        breaker_probe_seconds=0.3,
    )
    dispatcher = make_dispatcher(db, app, settings)
    await flow(world)
    await dispatcher.run_until_idle()
    state = (await world.client.get(f"/v1/connectors/{connector['id']}", headers=ADMIN)).json()
    assert state["status"] == "paused"
    assert state["health"]["retrying"] + state["health"]["pending"] == 2
    crm.fail = None
    await deliver_all(dispatcher, db)
    assert crm.types() == ["visit.verified", "receipt.closed"]
    state = (await world.client.get(f"/v1/connectors/{connector['id']}", headers=ADMIN)).json()
    assert state["status"] == "active"


async def test_one_stuck_member_blocks_only_itself(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """While one guest's first event keeps failing, their later events wait; another guest's go through."""
    stuck = world.member["id"]
    crm.fail = lambda envelope: (503, {}) if envelope["data"].get("member", {}).get("id") == stuck else None
    await connect(world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"])
    await world.verified_visit()
    await world.verified_visit()
    other = await builders.member(world.client, world.program)
    scan = await world.scan(other["card_number"])
    await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    dispatcher = make_dispatcher(db, app)
    for _ in range(5):
        await dispatcher.run_until_idle()
        await asyncio.sleep(0.06)
    assert [e["data"]["member"]["id"] for e in crm.received] == [other["id"]]
    async with db.sessionmaker() as session:
        attempted = set(await session.scalars(select(DeliveryAttempt.delivery_id)))
    assert len(attempted) == 2  # the stuck guest's second visit was never tried before the first
    crm.fail = None
    await deliver_all(dispatcher, db)
    assert [e["data"]["member"]["id"] for e in crm.received] == [other["id"], stuck, stuck]


async def test_a_dead_workers_claim_is_taken_back(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """A delivery claimed by a process that died is delivered by another once the lease runs out."""
    await connect(world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"])
    await world.verified_visit()
    async with db.transaction() as session:
        await session.execute(
            update(Delivery).values(
                claimed_by="dead-worker", claimed_until=SystemClock().now() + dt.timedelta(seconds=0.3)
            )
        )
    dispatcher = make_dispatcher(db, app)
    assert await dispatcher.run_until_idle() == 0  # still leased
    await asyncio.sleep(0.35)
    await deliver_all(dispatcher, db)
    assert crm.types() == ["visit.verified"]


async def test_replay_redelivers_with_the_same_event_id(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """Replaying everything since a time delivers the same events again, under the same ids."""
    connector = await connect(world.client, crm, {"program_id": world.program["id"]})
    await flow(world)
    await deliver_all(make_dispatcher(db, app), db)
    first_ids = [e["id"] for e in crm.received]
    crm.received.clear()
    replay = await world.client.post(
        f"/v1/connectors/{connector['id']}/replay",
        json={"from": "2000-01-01T00:00:00Z", "status": "all"},
        headers=ADMIN,
    )
    assert replay.status_code == 202
    assert replay.json() == {"count": 2}
    await deliver_all(make_dispatcher(db, app), db)
    assert [e["id"] for e in crm.received] == first_ids


async def test_signing_secret_rotation_signs_with_both(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """After a rotation both secrets sign, so a receiver still on the old one accepts the event."""
    connector = await connect(
        world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"]
    )
    old = crm.secrets[:]
    rotated = await world.client.post(
        f"/v1/connectors/{connector['id']}/signing-secret/rotate", headers=ADMIN
    )
    assert rotated.status_code == 200
    assert rotated.json()["signing_secret"].startswith("whsec_")
    await world.verified_visit()
    crm.secrets = old  # the receiver has not switched yet
    await deliver_all(
        make_dispatcher(db, app, clock=app.state.clock), db
    )  # the clock that timed the rotation
    assert crm.types() == ["visit.verified"]
    assert len(crm.headers[0]["webhook-signature"].split(" ")) == 2


async def test_secrets_are_write_only(world: World, crm: Crm) -> None:
    """A connector reads back without its secrets: the bearer token is never returned."""
    response = await world.client.post(
        "/v1/connectors",
        json={
            "name": "with token",
            "kind": "rest",
            "owner": {"program_id": world.program["id"]},
            "url": crm.url,
            "auth": {"type": "bearer", "token": "s3cret-token-value"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    read = await world.client.get(f"/v1/connectors/{response.json()['id']}", headers=ADMIN)
    assert "s3cret-token-value" not in read.text
    assert read.json()["auth"] == {"type": "bearer"}


async def test_refused_urls(world: World) -> None:
    """A connector URL outside the egress allow-list is refused with a typed error."""
    response = await world.client.post(
        "/v1/connectors",
        json={
            "name": "metadata",
            "kind": "rest",
            "owner": {"program_id": world.program["id"]},
            "url": "http://169.254.169.254/latest/meta-data",
            "auth": {"type": "none"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "egress_refused"


async def test_venue_key_manages_only_its_connectors(world: World, crm: Crm) -> None:
    """A venue key creates and sees its own venue's connectors, not the program's or another venue's."""
    venue_key = await builders.key(world.client, "venue", venue_id=world.venue["id"])
    mine = await world.client.post(
        "/v1/connectors",
        json={
            "name": "our iiko bridge",
            "kind": "rest",
            "owner": {"venue_id": world.venue["id"]},
            "url": crm.url,
            "auth": {"type": "none"},
        },
        headers={"Authorization": f"Bearer {venue_key}"},
    )
    assert mine.status_code == 201, mine.text
    program_crm = await connect(world.client, crm, {"program_id": world.program["id"]})
    seen = await world.client.get("/v1/connectors", headers={"Authorization": f"Bearer {venue_key}"})
    assert [c["id"] for c in seen.json()["items"]] == [mine.json()["id"]]
    hidden = await world.client.get(
        f"/v1/connectors/{program_crm['id']}", headers={"Authorization": f"Bearer {venue_key}"}
    )
    assert hidden.status_code == 404
    assert uuid.UUID(mine.json()["id"])


async def test_a_slow_crm_does_not_delay_the_others(world: World, db: Database, app: Litestar) -> None:
    """One CRM answering after seconds holds only its own slots: another CRM's events keep flowing."""
    async with running_crm() as slow, running_crm() as fast:
        slow.delay_seconds = 5.0
        await connect(world.client, slow, {"program_id": world.program["id"]}, events=["receipt.refunded"])
        await connect(world.client, fast, {"venue_id": world.venue["id"]}, events=["receipt.refunded"])
        visit_id = await world.verified_visit()
        receipt = await world.client.post(
            f"/v1/visits/{visit_id}/receipt", json=receipt_body("N"), headers=world.till
        )
        receipt_id = receipt.json()["receipt_id"]
        for _ in range(30):  # a backlog far larger than a claim batch
            refund = await world.client.post(
                f"/v1/receipts/{receipt_id}/refund",
                json={"amount_minor": 1, "reason": "noise"},
                headers=world.till,
            )
            assert refund.status_code == 201, refund.text
        settings = DispatchSettings(
            poll_seconds=0.02, batch_size=4, per_connector_concurrency=2, attempt_timeout_seconds=30
        )
        dispatcher = make_dispatcher(db, app, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        started = asyncio.get_running_loop().time()
        try:
            while len(fast.received) < 30:
                assert asyncio.get_running_loop().time() - started < 4.0, f"fast CRM got {len(fast.received)}"
                await asyncio.sleep(0.05)
            assert len(slow.received) == 0  # still waiting on its first answers
        finally:
            stop.set()
            slow.delay_seconds = 0.0
            await task


async def test_a_manual_retry_continues_the_attempt_numbering_and_records_the_status(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """A 400 (attempt 1, dead), then POST /retry: the delivery goes as attempt 2, not a second attempt 1,
    and the delivered attempt and the delivery record the CRM's 200."""
    crm.fail = lambda envelope: (400, {})
    await connect(world.client, crm, {"program_id": world.program["id"]}, events=["visit.verified"])
    await world.verified_visit()
    await deliver_all(make_dispatcher(db, app), db)
    (dead,) = (await world.client.get("/v1/deliveries?status=dead", headers=ADMIN)).json()["items"]
    crm.fail = None
    assert (await world.client.post(f"/v1/deliveries/{dead['id']}/retry", headers=ADMIN)).status_code == 202
    await deliver_all(make_dispatcher(db, app), db)
    detail = (await world.client.get(f"/v1/deliveries/{dead['id']}", headers=ADMIN)).json()
    log = [(a["number"], a["outcome"], a["status_code"]) for a in detail["attempt_log"]]
    assert log == [(1, "permanent", 400), (2, "delivered", 200)]
    assert (detail["status"], detail["last_status_code"]) == ("delivered", 200)
