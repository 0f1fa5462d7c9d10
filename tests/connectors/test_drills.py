"""Fault drills on PostgreSQL: dispatcher processes killed with SIGKILL at random, several at once.

Every event is delivered, none lost; no delivery is attempted by two processes at the same time;
per guest, events arrive in the order they happened (first arrivals; a redelivery inside the
documented crash window — killed after the POST, before recording it — may repeat an earlier one).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from connectors import schemas as cs
from connectors import services as connector_services
from connectors.models import Delivery
from connectors.outbox import EventContext, enqueue
from hub.clock import utcnow
from hub.db import Database
from hub.scope import ADMIN
from partners.models import Partner, Program, Venue
from tests.conftest import TEST_KEYRING

EVENTS = 240
MEMBERS = 24
HUB = str(Path(sys.executable).with_name("coalition-hub"))


@dataclass
class CountingCrm:
    """Records arrivals and any moment when one event is being received twice at once."""

    delay: float = 0.02
    in_flight: set[str] = field(default_factory=set)
    overlaps: int = 0
    arrivals: list[tuple[str, str]] = field(default_factory=list)  # (member id, event id)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        envelope = await request.json()
        event_id = envelope["id"]
        if event_id in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(event_id)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight.discard(event_id)
        self.arrivals.append((envelope["data"]["member"]["id"], event_id))
        return web.json_response({"ok": True})


@pytest.fixture
async def crm() -> AsyncIterator[CountingCrm]:
    server = CountingCrm()
    application = web.Application()
    application.router.add_post("/events", server.handle)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/events"  # type: ignore[union-attr]
    yield server
    await runner.cleanup()


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    from tests.conftest import wipe

    database = Database(postgres_url)
    await wipe(database)
    yield database
    await wipe(database)
    await database.dispose()


async def _allow_loopback(url: str) -> None:
    assert url.startswith("http://127.0.0.1:")


async def _seed(db: Database, crm: CountingCrm) -> list[str]:
    """A program with a REST connector and EVENTS events over MEMBERS guests, in order; their ids."""
    async with db.transaction() as session:
        partner = Partner(name="Drill partner")
        session.add(partner)
        await session.flush()
        venue = Venue(
            partner_id=partner.id,
            name="Drill venue",
            city="Moscow",
            district="Arbat",
            timezone="Europe/Moscow",
        )
        program = Program(
            name="Drill program",
            kind="coalition",
            currency="RUB",
            card_rules=[],
            pin_policy={},
            sms_template="{pin}",
            fees={},
            signing_public_keys=[],
        )
        session.add_all([venue, program])
        await session.flush()
        await connector_services.create(
            session,
            TEST_KEYRING,
            ADMIN,
            cs.ConnectorCreate(
                name="drill CRM",
                kind="rest",
                owner=cs.Owner(program_id=program.id),
                url=crm.url,
                auth=cs.NoAuth(),
            ),
            _allow_loopback,
        )
        context = EventContext(
            program_id=program.id,
            program_name=program.name,
            venue_id=venue.id,
            venue_name=venue.name,
            partner_id=partner.id,
        )
        members = [uuid.uuid4() for _ in range(MEMBERS)]
        ids = []
        for n in range(EVENTS):
            member = members[n % MEMBERS]
            event_id = await enqueue(
                session,
                event_type="visit.verified",
                context=context,
                occurred_at=utcnow(),
                member_id=member,
                data={
                    "visit_id": str(uuid.uuid4()),
                    "member": {"id": str(member)},
                    "referral_id": None,
                    "verified_at": utcnow().isoformat(),
                },
            )
            ids.append(str(event_id))
    return ids


def _start_dispatcher(url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEYS": base64.urlsafe_b64encode(TEST_KEYRING.raw_keys[0]).decode().rstrip("="),
        "HUB_EGRESS_ALLOW": "127.0.0.0/8",
        "HUB_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(  # noqa: S603  # our own CLI with fixed arguments
        [HUB, "dispatch", "--lease-seconds", "2", "--batch-size", "16", "--concurrency", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _open(db: Database) -> int:
    async with db.reader() as session:
        return int(
            await session.scalar(
                select(func.count(Delivery.id)).where(Delivery.status.in_(("pending", "retrying")))
            )
            or 0
        )


@pytest.mark.parametrize("workers", [2, 4])
async def test_killing_dispatchers_loses_nothing(
    pg: Database, postgres_url: str, crm: CountingCrm, workers: int
) -> None:
    """With SIGKILLs at random among several dispatchers, every event arrives, never two at once, in order."""
    event_ids = await _seed(pg, crm)
    order = {event_id: n for n, event_id in enumerate(event_ids)}
    processes = [_start_dispatcher(postgres_url) for _ in range(workers)]
    rng = random.Random(workers)  # noqa: S311  # which process to kill: a drill, not cryptography
    kills = 0
    try:
        deadline = asyncio.get_running_loop().time() + 90
        while await _open(pg):
            assert asyncio.get_running_loop().time() < deadline, "deliveries still open"
            await asyncio.sleep(0.3)
            if kills < 8:
                victim = rng.randrange(len(processes))
                processes[victim].send_signal(signal.SIGKILL)
                processes[victim].wait()
                processes[victim] = _start_dispatcher(postgres_url)
                kills += 1
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    received = {event_id for _, event_id in crm.arrivals}
    assert received == set(event_ids), f"lost: {len(set(event_ids) - received)}"
    assert crm.overlaps == 0
    seen: set[str] = set()
    last: dict[str, int] = {}
    for member, event_id in crm.arrivals:
        if event_id in seen:
            continue  # a redelivery inside the crash window
        seen.add(event_id)
        assert order[event_id] > last.get(member, -1), "out of order for a guest"
        last[member] = order[event_id]
    duplicates = len(crm.arrivals) - len(received)
    assert duplicates <= kills * 4 * 2  # at most what was in flight in the killed processes


async def test_a_crm_down_for_a_while_gets_everything_in_order(
    pg: Database, postgres_url: str, crm: CountingCrm
) -> None:
    """The CRM answers 503 for a while, then recovers: everything arrives, in order per guest."""
    event_ids = await _seed(pg, crm)
    order = {event_id: n for n, event_id in enumerate(event_ids)}
    healthy = crm.handle
    down_until = asyncio.get_running_loop().time() + 2.0

    async def flaky(request: web.Request) -> web.Response:
        if asyncio.get_running_loop().time() < down_until:
            return web.json_response({"error": "down"}, status=503)
        return await healthy(request)

    crm.handle = flaky  # type: ignore[method-assign]
    from connectors.outbox.dispatcher import Dispatcher, DispatchSettings
    from connectors.runtime import build_destinations, build_runtime
    from hub.clock import SystemClock
    from hub.http import EgressPolicy, create_http_session

    http = create_http_session(EgressPolicy(("127.0.0.0/8",)))
    clock = SystemClock()
    dispatcher = Dispatcher(
        pg,
        TEST_KEYRING,
        clock,
        build_destinations(build_runtime(pg, TEST_KEYRING, clock, http)),
        DispatchSettings(backoff_base_seconds=0.2, backoff_cap_seconds=1.0, poll_seconds=0.05),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while await _open(pg):
            assert asyncio.get_running_loop().time() < deadline, "deliveries still open"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
        await http.close()
    assert {e for _, e in crm.arrivals} == set(event_ids)
    last: dict[str, int] = {}
    for member, event_id in crm.arrivals:
        assert order[event_id] > last.get(member, -1)
        last[member] = order[event_id]
