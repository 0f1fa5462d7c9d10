"""Fault drills against real `coalition-hub serve` processes on PostgreSQL, each bounded in time.

- PostgreSQL restarted under load: 503 database_unavailable (typed) while it is down, recovery without
  a hub restart, and every accepted visit and receipt has its rows and its outbox event afterwards.
- API processes SIGKILLed at random under load: nothing a client was told was accepted is lost.
- HUB_SECRET_KEYS rotated under load, the rotation SIGKILLed midway and run again: afterwards the newest
  key alone opens every secret, and the load saw no server error.

The guest flow is driven over HTTP as bench/flow.py does (its seeding is reused). A terminal keeps to one
hub process for scan and PIN: the console SMS inbox is per process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy import select

from bench import flow as flow_bench
from connectors.outbox.models import OutboxEvent
from connectors.outbox.writer import personal_aad
from hub.crypto import Keyring
from hub.db import Database
from hub.flow.models import Receipt, Visit
from partners.members import phone_aad
from partners.models import Member
from pin.models import PinChallenge
from pin.service import secret_aad
from tests.conftest import ADMIN_KEY, TEST_KEYRING, wipe

HUB = str(Path(sys.executable).with_name("coalition-hub"))
HOST = "127.0.0.1"
PIN_RE = re.compile(r"\b(\d{4,10})\b")


def _key_text(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class HubProcess:
    """One `coalition-hub serve` on a port of its own; restartable on the same port after a SIGKILL."""

    database_url: str
    log_path: Path
    secret_keys: tuple[bytes, ...] = TEST_KEYRING.raw_keys
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_DATABASE_URL": self.database_url,
            "HUB_HOST": HOST,
            "HUB_PORT": str(self.port),
            "HUB_ADMIN_KEY": ADMIN_KEY,
            "HUB_SECRET_KEYS": ",".join(_key_text(k) for k in self.secret_keys),
            "HUB_DISPATCHER": "off",
            "HUB_RATE_LIMIT_PER_MINUTE": "100000",
            "HUB_TERMINAL_RATE_LIMIT_PER_MINUTE": "100000",
            "HUB_LOG_LEVEL": "ERROR",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  # our own CLI with fixed arguments
                [HUB, "serve", "--no-migrate"], env=env, stdout=log, stderr=log
            )

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.process is not None
                assert self.process.poll() is None, self.log_path.read_text()[-3000:]
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                assert asyncio.get_running_loop().time() < deadline, "the hub did not start"
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    """The run's PostgreSQL database, emptied before and after."""
    database = Database(postgres_url)
    await wipe(database)
    yield database
    await wipe(database)
    await database.dispose()


@pytest.fixture
async def hubs(tmp_path: Path) -> AsyncIterator[list[HubProcess]]:
    """Hub processes a test starts; every one is stopped at the end, whatever happened."""
    started: list[HubProcess] = []
    yield started
    for hub in started:
        hub.stop()


@dataclass
class Ledger:
    """What the clients were told: accepted visits and receipts, and every answer's status."""

    visits: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    connection_errors: int = 0
    untyped: list[str] = field(default_factory=list)

    def answered(self, status: int, body: bytes) -> Any:
        self.statuses.append(status)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        if status >= 400 and not (
            isinstance(parsed, dict)
            and set(parsed) == {"error"}
            and set(parsed["error"]) == {"code", "message", "details"}
        ):
            self.untyped.append(f"{status} {body[:200]!r}")
        return parsed


async def _post(
    http: aiohttp.ClientSession, url: str, key: str, body: Any, ledger: Ledger
) -> tuple[int, Any]:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as response:
        raw = await response.read()
        return response.status, ledger.answered(response.status, raw)


async def _read_pin(http: aiohttp.ClientSession, base: str, phone: str) -> str | None:
    async with http.get(f"{base}/dev/sms", headers={"Accept": "application/json"}) as response:
        for message in await response.json():
            if message["to"] == phone:
                found = PIN_RE.search(message["text"])
                return found.group(1) if found else None
    return None


async def terminal(
    base: Callable[[], str],
    keys: list[str],
    guests: list[flow_bench.Guest],
    ledger: Ledger,
    stop: asyncio.Event,
) -> None:
    """scan → PIN → receipt for each guest until stopped. While the hub or its database is down (503,
    no connection) the waiter tries the same guest again shortly, as a real one would (at most a few
    times: each try may have sent an SMS); any other broken flow moves on to the next guest."""
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for i, guest in enumerate(guests):
            key = keys[i // flow_bench.FLOWS_PER_TERMINAL_KEY]
            for _ in range(3):
                if stop.is_set():
                    return
                if not await _one_flow(http, base(), key, guest, ledger):
                    break
                await asyncio.sleep(0.2)


async def _one_flow(
    http: aiohttp.ClientSession, hub: str, key: str, guest: flow_bench.Guest, ledger: Ledger
) -> bool:
    """One guest's flow; True when it should be tried again (the hub or its database was down)."""
    try:
        status, scan = await _post(http, f"{hub}/v1/scans", key, {"code": guest.card_number}, ledger)
        if status == 503:
            return True
        pin = await _read_pin(http, hub, guest.phone) if status == 201 else None
        if pin is None:
            await asyncio.sleep(0.05)
            return False
        pin_url = f"{hub}/v1/scans/{scan['scan_id']}/pin"
        status, verified = await _post(http, pin_url, key, {"pin": pin}, ledger)
        if status != 200:
            return False
        ledger.visits.append(verified["visit_id"])
        receipt = {
            "check_id": f"drill-{uuid.uuid4().hex}",
            "currency": "RUB",
            "closed_at": dt.datetime.now(dt.UTC).isoformat(),  # the real servers run on the real clock
            "items": flow_bench.RECEIPT_ITEMS,
        }
        status, closed = await _post(
            http, f"{hub}/v1/visits/{verified['visit_id']}/receipt", key, receipt, ledger
        )
        if status == 201:
            ledger.receipts.append(closed["receipt_id"])
        return False
    except (aiohttp.ClientError, TimeoutError):
        ledger.connection_errors += 1
        return True


async def _seed(hub: HubProcess, workers: int, flows: int) -> flow_bench.Seeded:
    async with aiohttp.ClientSession() as http:
        return await flow_bench.seed(http, hub.url, ADMIN_KEY, workers, flows)


async def assert_nothing_lost(db: Database, ledger: Ledger) -> None:
    """Every accepted visit and receipt has its row and its outbox event."""
    async with db.reader() as session:
        visits = {str(v) for v in await session.scalars(select(Visit.id))}
        receipts = {str(r) for r in await session.scalars(select(Receipt.id))}
        events = list(
            await session.execute(
                select(OutboxEvent.type, OutboxEvent.envelope).where(
                    OutboxEvent.type.in_(("visit.verified", "receipt.closed"))
                )
            )
        )
    visit_events = {e["data"]["visit_id"] for t, e in events if t == "visit.verified"}
    receipt_events = {e["data"]["receipt_id"] for t, e in events if t == "receipt.closed"}
    assert set(ledger.visits) <= visits
    assert set(ledger.receipts) <= receipts
    assert set(ledger.visits) <= visit_events
    assert set(ledger.receipts) <= receipt_events


# ---- PostgreSQL restarted under load ----


def _pg_ctl(action: str) -> None:
    (version,) = os.listdir("/etc/postgresql")
    subprocess.run(  # noqa: S603  # the cluster tool with fixed arguments
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],  # noqa: S607
        check=True,
        timeout=120,
        capture_output=True,
    )


async def _wait_accepting(url: str, timeout_s: float = 90) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
        else:
            await conn.close()
            return


async def test_postgres_restart_under_load(
    pg: Database, postgres_url: str, hubs: list[HubProcess], tmp_path: Path
) -> None:
    """While PostgreSQL is down the hub answers 503 database_unavailable; it recovers by itself; no
    accepted visit or receipt lacks its rows or its event."""
    hub = HubProcess(postgres_url, tmp_path / "hub.log")
    hubs.append(hub)
    hub.start()
    await hub.ready()
    seeded = await _seed(hub, workers=4, flows=150)
    ledger, stop = Ledger(), asyncio.Event()
    load = [
        asyncio.create_task(
            terminal(lambda: hub.url, seeded.terminal_keys[w], seeded.guests[w], ledger, stop)
        )
        for w in range(4)
    ]
    try:
        await asyncio.sleep(2)
        accepted_before = len(ledger.receipts)
        try:
            await asyncio.to_thread(_pg_ctl, "stop")
            await asyncio.sleep(3)
        finally:  # the whole run shares this server: it is up again before the test returns, always
            await asyncio.to_thread(_pg_ctl, "start")
            await _wait_accepting(postgres_url)
        during = list(ledger.statuses)
        recovered_from = len(ledger.receipts)
        # recovery is not instant on a loaded machine (flows broken by the outage move on to new guests):
        # wait for the first receipt accepted after the restart, bounded
        deadline = asyncio.get_running_loop().time() + 30
        while len(ledger.receipts) <= recovered_from and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110  # polling the load's ledger, which signals nothing
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*load), 60)
    assert accepted_before > 0
    assert 503 in during, "no 503 while PostgreSQL was down"
    assert len(ledger.receipts) > recovered_from, "no receipt accepted after the restart"
    assert {s for s in ledger.statuses if s >= 500} == {503}
    assert ledger.untyped == []
    assert hub.process is not None
    assert hub.process.poll() is None, "the hub itself must survive"
    await assert_nothing_lost(pg, ledger)


# ---- API processes killed under load ----


async def test_killing_api_processes_loses_nothing_accepted(
    pg: Database, postgres_url: str, hubs: list[HubProcess], tmp_path: Path
) -> None:
    """Two API processes, SIGKILLed at random and restarted: every accepted visit and receipt is there."""
    processes = [HubProcess(postgres_url, tmp_path / f"hub{n}.log") for n in range(2)]
    hubs.extend(processes)
    for process in processes:
        process.start()
    for process in processes:
        await process.ready()
    seeded = await _seed(processes[0], workers=4, flows=100)
    ledger, stop = Ledger(), asyncio.Event()
    load = [
        asyncio.create_task(
            terminal(
                lambda w=w: processes[w % 2].url,  # type: ignore[misc]  # bound per terminal
                seeded.terminal_keys[w],
                seeded.guests[w],
                ledger,
                stop,
            )
        )
        for w in range(4)
    ]
    rng = random.Random(7)  # noqa: S311  # which process to kill: a drill, not cryptography
    kills = 0
    try:
        for _ in range(5):
            await asyncio.sleep(1.5)
            victim = processes[rng.randrange(2)]
            victim.kill()
            kills += 1
            victim.start()
            await victim.ready()
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*load), 60)
    assert kills == 5
    assert len(ledger.receipts) >= 10
    assert [s for s in ledger.statuses if s >= 500] == []
    assert ledger.untyped == []
    await assert_nothing_lost(pg, ledger)


# ---- key rotation under load, killed midway ----


def _rotate(database_url: str, keys: tuple[bytes, ...]) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEYS": ",".join(_key_text(k) for k in keys),
    }
    return subprocess.Popen(  # noqa: S603  # our own CLI with fixed arguments
        [HUB, "secrets", "rotate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def _members_under(db: Database, keyring: Keyring) -> tuple[int, int]:
    async with db.reader() as session:
        tokens = list(await session.scalars(select(Member.phone_ciphertext)))
    return sum(keyring.is_current(t) for t in tokens), len(tokens)


async def _import_members(hub: HubProcess, count: int) -> None:
    """Many members of a program of their own, so the rotation has work to be killed in."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
        async with http.post(
            f"{hub.url}/v1/programs",
            json={
                "name": "Rotation",
                "kind": "coalition",
                "currency": "RUB",
                "tiers": [{"code": "s", "name": "S"}],
            },
        ) as response:
            program = await response.json()
        rows = "card_number,phone\n" + "".join(f"55{n:010d},+7917{n:07d}\n" for n in range(count))
        async with http.post(
            f"{hub.url}/v1/programs/{program['id']}/members/import",
            data=rows,
            headers={"Content-Type": "text/csv"},
        ) as response:
            assert response.status == 200, await response.text()


async def test_key_rotation_under_load_killed_midway_and_rerun(
    pg: Database, postgres_url: str, hubs: list[HubProcess], tmp_path: Path
) -> None:
    """A rotation killed midway and run again leaves every secret under the newest key alone, while
    guest flows go on without a server error and lose nothing."""
    old, new = TEST_KEYRING.raw_keys[0], secrets.token_bytes(32)
    first = HubProcess(postgres_url, tmp_path / "hub-old.log")
    hubs.append(first)
    first.start()
    await first.ready()
    seeded = await _seed(first, workers=3, flows=60)
    await _import_members(first, 6000)
    first.stop()
    hub = HubProcess(postgres_url, tmp_path / "hub-new.log", secret_keys=(new, old), port=first.port)
    hubs.append(hub)
    hub.start()
    await hub.ready()
    ledger, stop = Ledger(), asyncio.Event()
    load = [
        asyncio.create_task(
            terminal(lambda: hub.url, seeded.terminal_keys[w], seeded.guests[w], ledger, stop)
        )
        for w in range(3)
    ]
    newest = Keyring((new, old))
    try:
        rotation = _rotate(postgres_url, (new, old))
        deadline = asyncio.get_running_loop().time() + 120
        while (await _members_under(pg, newest))[0] < 500:
            assert rotation.poll() is None, "the rotation finished before it could be killed"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        rotation.send_signal(signal.SIGKILL)
        rotation.wait(timeout=30)
        done, total = await _members_under(pg, newest)
        assert done < total, "killed too late: nothing left for the second run"
        rerun = _rotate(postgres_url, (new, old))
        _, err = await asyncio.to_thread(rerun.communicate, timeout=300)
        assert rerun.returncode == 0, err.decode()[-2000:]
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*load), 60)
    only_new = Keyring((new,))
    async with pg.reader() as session:
        members = list(await session.execute(select(Member.id, Member.phone_ciphertext, Member.phone_index)))
        challenges = list(await session.execute(select(PinChallenge.id, PinChallenge.secret_ciphertext)))
        events = list(
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.personal_ciphertext).where(
                    OutboxEvent.personal_ciphertext.is_not(None)
                )
            )
        )
    for member_id, token, index in members:
        assert only_new.blind_index(only_new.decrypt_str(token, phone_aad(member_id))) == index
    for challenge_id, secret in challenges:
        only_new.decrypt_str(secret, secret_aad(challenge_id))
    for event_id, personal in events:
        assert personal is not None
        only_new.decrypt_str(personal, personal_aad(event_id))
    assert len(members) > 6000
    assert len(ledger.receipts) > 0
    assert [s for s in ledger.statuses if s >= 500] == []
    assert ledger.untyped == []
    await assert_nothing_lost(pg, ledger)


@pytest.mark.parametrize(
    ("sqlstate", "unavailable"),
    [("57P03", True), ("57P01", True), ("08006", True), ("53300", True), ("23505", False), (None, False)],
)
def test_which_database_errors_are_503(sqlstate: str | None, unavailable: bool) -> None:
    """Shutting down, starting up, lost connections and too many clients are 503; a constraint is not."""
    from sqlalchemy.exc import DBAPIError

    from hub.plugin import _database_unreachable

    class Orig(Exception):
        pass

    orig = Orig("from the driver")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]  # as asyncpg's errors carry it
    assert _database_unreachable(DBAPIError("SELECT 1", None, orig)) is unavailable


def test_a_value_the_database_refuses_is_a_typed_422() -> None:
    """SQLSTATE class 22 (a NUL in text, a number past BIGINT) answers 422 validation_failed, not 500."""
    from sqlalchemy.exc import DBAPIError

    from hub.plugin import handle_unexpected

    class Orig(Exception):
        sqlstate = "22021"

    response = handle_unexpected(None, DBAPIError("INSERT", None, Orig("invalid byte sequence")))  # type: ignore[arg-type]  # no request needed
    assert response.status_code == 422
    assert response.content.error.code == "validation_failed"
