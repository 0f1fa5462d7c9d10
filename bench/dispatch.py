"""Outbox dispatch: latency from commit to first delivery attempt, and deliveries/s from the outbox to a
local sink with 1, 2 and 4 `coalition-hub dispatch` processes, beside two same-run baselines on the same
sink: a raw aiohttp POST loop (the floor, same processes x concurrency, same payload) and procrastinate
doing the same deliveries on the same PostgreSQL. Targets: p99 latency < 1 s, hub >= 0.8x the floor,
hub >= 2x procrastinate.

    .venv/bin/python bench/dispatch.py                     # SQLite (temp dir), then PostgreSQL
    .venv/bin/python bench/dispatch.py --backend postgres  # a fresh database on 127.0.0.1:5432, dropped after
    .venv/bin/python bench/dispatch.py --events 20000 --concurrency 16 --processes 1,2,4 --deadline 600
    .venv/bin/pip install procrastinate                    # the comparison row (skipped without it)

Every server is a child process (the sink: --sink-workers aiohttp.web processes sharing one port with
SO_REUSEPORT, each answering 200 at once; the dispatchers; the floor loops; the procrastinate workers),
on loopback only, stopped at the end, on errors, on Ctrl-C and at the --deadline. Deliveries/s are
counted at the sink, over the steady part of each run (from 10 % to 90 % of the events arrived), so
process start-up is left out of every row alike. SQLite runs one dispatcher only: several processes
would share one file lock, so they would take turns, not add up. Latency is measured with one
dispatcher running while the bench commits a trickle of events one by one: first_attempt_at (written by
the dispatcher) minus the time the bench saw its commit return.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from connectors import schemas as cs
from connectors import services as connector_services
from connectors.models import Delivery
from connectors.outbox import EventContext, enqueue
from hub.clock import utcnow
from hub.crypto import Keyring
from hub.db import Database
from hub.db.migrate import upgrade_async
from hub.scope import ADMIN
from partners.models import Partner, Program, Venue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/dispatch.py` runs with bench/ first on the path

from bench.children import HOST, BenchError, Child, free_port, kill_leftovers  # noqa: E402  # after the path

BIN = Path(sys.executable).parent
SELF = str(Path(__file__).resolve())
LATENCY_GOAL_S = 1.0
FLOOR_TARGET = 0.8
PROCRASTINATE_TARGET = 2.0
PRELOAD_CHUNK = 500
STALL_S = 60.0  # no arrival at the sink for this long: the run is broken, not slow
MACHINE_NOTE = (
    f"{os.cpu_count()} CPUs; everything on one machine: sink, dispatchers, baselines and the database "
    "share the cores, so the figures are relative, not absolute"
)

console = Console()


# ---- child processes ----


async def stop_all(children: list[Child]) -> None:
    await asyncio.gather(*(c.stop() for c in children))


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}


# ---- the sink: child role ----


def sink_main(port: int, control_port: int) -> None:
    """Answer 200 to every POST at once; count them; GET /count on this process's own control port."""
    count = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal count
        await request.read()
        count += 1
        return web.Response(status=200)

    async def report(_: web.Request) -> web.Response:
        return web.Response(text=str(count))

    async def serve() -> None:
        data = web.Application()
        data.router.add_post("/{tail:.*}", receive)
        control = web.Application()
        control.router.add_get("/count", report)
        runners = [web.AppRunner(data, access_log=None), web.AppRunner(control, access_log=None)]
        for runner in runners:
            await runner.setup()
        await web.TCPSite(runners[0], HOST, port, reuse_port=True, backlog=1024).start()
        await web.TCPSite(runners[1], HOST, control_port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        for runner in runners:
            await runner.cleanup()

    asyncio.run(serve())


@dataclass
class Sink:
    port: int
    control_urls: list[str]
    children: list[Child]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/events"

    async def count(self, http: aiohttp.ClientSession) -> int:
        total = 0
        for url in self.control_urls:
            async with http.get(url) as response:
                total += int(await response.text())
        return total

    def check_alive(self) -> None:
        for child in self.children:
            child.check_alive()


async def start_sink(http: aiohttp.ClientSession, workers: int, tmp: Path) -> Sink:
    port = free_port()
    children, urls = [], []
    for n in range(workers):
        control = free_port()
        argv = [sys.executable, SELF, "_sink", str(port), str(control)]
        children.append(await Child(f"sink {n}", argv, base_env(), tmp / f"sink{n}.log").start())
        urls.append(f"http://{HOST}:{control}/count")
    sink = Sink(port, urls, children)
    deadline = time.monotonic() + 30
    while True:
        sink.check_alive()
        with contextlib.suppress(aiohttp.ClientError):
            await sink.count(http)
            return sink
        if time.monotonic() > deadline:
            raise BenchError("the sink did not start within 30 s")
        await asyncio.sleep(0.1)


# ---- the floor: child role ----


def floor_main(url: str, requests: int, concurrency: int, body_path: str) -> None:
    """A raw aiohttp POST loop: `concurrency` clients share `requests` POSTs of the given body."""
    body = Path(body_path).read_bytes()
    headers = {"Content-Type": "application/json"}

    async def run() -> None:
        left = requests
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def client() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    async with http.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            raise BenchError(f"the sink answered {response.status}")

            await asyncio.gather(*(client() for _ in range(concurrency)))

    asyncio.run(run())


# ---- procrastinate: the same deliveries as a task (child role and deferring) ----


def procrastinate_app(dsn: str, sink_url: str, signing_secret: str) -> Any:
    """An App whose `deliver` task POSTs the envelope, signed like the hub signs, to the sink."""
    import procrastinate  # type: ignore[import-not-found,unused-ignore]  # optional, bench-only

    from connectors.rest.signing import webhook_headers

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    sessions: list[aiohttp.ClientSession] = []

    @app.task(name="deliver")  # type: ignore[untyped-decorator,unused-ignore]
    async def deliver(event_id: str, body: str) -> None:
        if not sessions:
            sessions.append(aiohttp.ClientSession())
        headers = {
            "Content-Type": "application/json",
            "X-Request-Id": event_id,
            **webhook_headers(event_id, body, (signing_secret,), utcnow()),
        }
        async with sessions[0].post(sink_url, data=body.encode(), headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise BenchError(f"the sink answered {response.status}")

    return app


def procrastinate_main(dsn: str, sink_url: str, concurrency: int, signing_secret: str) -> None:
    async def run() -> None:
        app = procrastinate_app(dsn, sink_url, signing_secret)
        async with app.open_async():
            await app.run_worker_async(concurrency=concurrency, wait=True, install_signal_handlers=True)

    asyncio.run(run())


def has_procrastinate() -> bool:
    try:
        import procrastinate  # noqa: F401  # type: ignore[import-not-found,unused-ignore]  # optional
    except ImportError:
        return False
    return True


async def defer_procrastinate(app: Any, envelopes: list[tuple[str, str, str]]) -> None:
    """One job per event (event id, member, body), locked per member as the hub keeps per-member order."""
    task = app.tasks["deliver"]
    for start in range(0, len(envelopes), 1000):
        jobs = [
            task.configure(lock=member).make_new_job(event_id=event_id, body=body)
            for event_id, member, body in envelopes[start : start + 1000]
        ]
        await app.job_manager.batch_defer_jobs_async(jobs=jobs)


# ---- databases ----


@dataclass
class BenchDatabase:
    url: str
    postgres_dsn: str | None = None  # libpq form, for asyncpg and procrastinate
    postgres_admin_dsn: str | None = None
    postgres_name: str | None = None

    async def drop(self) -> None:
        if self.postgres_admin_dsn is None or self.postgres_name is None:
            return
        conn = await asyncpg.connect(self.postgres_admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.postgres_name}" WITH (FORCE)')
        finally:
            await conn.close()


async def make_database(backend: str, tmp: Path, postgres_dsn: str) -> BenchDatabase:
    if backend == "sqlite":
        return BenchDatabase(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    name = f"hub_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = postgres_dsn.rsplit("/", 1)[0]
    return BenchDatabase(
        base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}",
        postgres_dsn=f"{base}/{name}",
        postgres_admin_dsn=postgres_dsn,
        postgres_name=name,
    )


async def _allow_loopback(url: str) -> None:
    if not url.startswith(f"http://{HOST}:"):
        raise BenchError(f"the bench only delivers on loopback, not to {url}")


@dataclass
class Seeded:
    context: EventContext
    signing_secret: str


async def seed(db: Database, keyring: Keyring, sink_url: str) -> Seeded:
    """A partner, a venue, a coalition program and its REST connector (masked personal data) to the sink."""
    async with db.transaction() as session:
        partner = Partner(name="Bench partner")
        session.add(partner)
        await session.flush()
        venue = Venue(
            partner_id=partner.id,
            name="Bench venue",
            city="Moscow",
            district="Arbat",
            timezone="Europe/Moscow",
        )
        program = Program(
            name="Bench program",
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
        created = await connector_services.create(
            session,
            keyring,
            ADMIN,
            cs.ConnectorCreate(
                name="bench sink",
                kind="rest",
                owner=cs.Owner(program_id=program.id),
                url=sink_url,
                auth=cs.NoAuth(),
                personal_data="masked",
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
    return Seeded(context, created.signing_secret)


async def enqueue_visit(
    session: Any, keyring: Keyring, context: EventContext, member: uuid.UUID, n: int
) -> uuid.UUID:
    """A visit.verified event as the guest flow writes it: the phone encrypted beside the envelope."""
    now = utcnow()
    return await enqueue(
        session,
        event_type="visit.verified",
        context=context,
        occurred_at=now,
        data={
            "visit_id": str(uuid.uuid4()),
            "member": {"id": str(member), "tier_code": "silver"},
            "referral_id": None,
            "verified_at": now.isoformat().replace("+00:00", "Z"),
        },
        personal={"phone": f"+7916{n % 10_000_000:07d}", "phone_masked": "+7916***0000"},
        keyring=keyring,
        member_id=member,
    )


async def preload(
    db: Database, keyring: Keyring, context: EventContext, events: int, per_member: int
) -> None:
    members = [uuid.uuid4() for _ in range(max(1, events // per_member))]
    for start in range(0, events, PRELOAD_CHUNK):
        async with db.transaction() as session:
            for n in range(start, min(events, start + PRELOAD_CHUNK)):
                await enqueue_visit(session, keyring, context, members[n % len(members)], n)


async def delivered_count(db: Database) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).where(Delivery.status == "delivered")) or 0)


async def reset_deliveries(db: Database) -> None:
    """Every delivery pending again, its attempts gone: the next run delivers the same events."""
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM delivery_attempts"))
        await session.execute(
            text(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = created_at, "
                "claimed_by = NULL, claimed_until = NULL, needs_reconcile = false, last_status_code = NULL, "
                "last_error = NULL, first_attempt_at = NULL, delivered_at = NULL"
            )
        )
    await vacuum(db)


async def vacuum(db: Database) -> None:
    """Dead row versions of the previous run out of the way (PostgreSQL), so runs start alike."""
    if db.is_sqlite:
        return
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE deliveries, delivery_attempts, outbox_events, connectors"))


async def clear_outbox(db: Database) -> None:
    async with db.transaction() as session:
        for table in ("delivery_attempts", "deliveries", "outbox_events"):
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608  # fixed table names
    await vacuum(db)


async def outbox_bodies(db: Database) -> list[tuple[str, str, str]]:
    """(event id, member key, body) of every preloaded event, serialized as the REST connector does."""
    async with db.reader() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT e.id, d.member_key, e.envelope FROM outbox_events e "
                    "JOIN deliveries d ON d.event_id = e.id ORDER BY d.id"
                )
            )
        ).all()
    bodies = []
    for event_id, member, envelope in rows:
        loaded = json.loads(envelope) if isinstance(envelope, str) else envelope
        loaded.setdefault("data", {}).setdefault("member", {})["phone"] = "+7916***0000"  # masked
        bodies.append((str(event_id), member, json.dumps(loaded, separators=(",", ":"), ensure_ascii=False)))
    return bodies


# ---- measuring ----


@dataclass
class Run:
    label: str
    events: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    after_stop: int = 0

    @property
    def arrived(self) -> int:
        return self.samples[-1][1]

    def at(self, fraction: float) -> float:
        """Interpolated time at which this fraction of the arrivals (all, or a capped run's) was in."""
        goal = fraction * self.arrived
        for (t0, c0), (t1, c1) in zip(self.samples, self.samples[1:], strict=False):
            if c1 >= goal:
                return t0 if c1 == c0 else t0 + (t1 - t0) * (goal - c0) / (c1 - c0)
        return self.samples[-1][0]

    @property
    def rate(self) -> float:
        """Deliveries/s over the steady part: from 10 % to 90 % arrived."""
        return 0.8 * self.arrived / max(1e-9, self.at(0.9) - self.at(0.1))

    @property
    def wall_s(self) -> float:
        return self.samples[-1][0] - self.samples[0][0]


async def measure(
    http: aiohttp.ClientSession,
    sink: Sink,
    label: str,
    events: int,
    start: Callable[[], Awaitable[list[Child]]],
    run_seconds: float,
) -> Run:
    """Start the children, count arrivals at the sink until every event arrived, stop the children."""
    base = await sink.count(http)
    run = Run(label, events, [(time.perf_counter(), 0)])
    children = await start()
    try:
        last_progress = started = time.perf_counter()
        while run.samples[-1][1] < events and time.perf_counter() - started < run_seconds:
            await asyncio.sleep(0.02)
            arrived = await sink.count(http) - base
            now = time.perf_counter()
            if arrived > run.samples[-1][1]:
                last_progress = now
            run.samples.append((now, arrived))
            sink.check_alive()
            if now - last_progress > STALL_S:
                tails = "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in children)
                raise BenchError(f"{label}: {arrived}/{events} after a {STALL_S:.0f} s stall\n{tails}")
    finally:
        await stop_all(children)
    run.after_stop = await sink.count(http) - base  # with the attempts in flight at the stop, drained
    capped = "" if run.arrived >= events else f", capped at {run_seconds:.0f} s"
    console.print(
        f"  {label}: {run.arrived:,} of {events:,} in {run.wall_s:.1f} s{capped}, steady {run.rate:,.0f}/s"
    )
    return run


def dispatcher_env(db: BenchDatabase, keyring: Keyring) -> dict[str, str]:
    return {
        **base_env(),
        "HUB_DATABASE_URL": db.url,
        "HUB_SECRET_KEYS": base64.urlsafe_b64encode(keyring.raw_keys[0]).decode().rstrip("="),
        "HUB_EGRESS_ALLOW": "127.0.0.0/8",
        "HUB_LOG_LEVEL": "WARNING",
    }


async def start_dispatchers(
    args: argparse.Namespace, db: BenchDatabase, keyring: Keyring, tmp: Path, count: int
) -> list[Child]:
    argv = [
        str(BIN / "coalition-hub"),
        "dispatch",
        *("--concurrency", str(args.concurrency)),
        *("--batch-size", str(args.batch_size)),
        *("--lease-seconds", "60"),
    ]
    env = dispatcher_env(db, keyring)
    return [await Child(f"dispatch {n}", argv, env, tmp / f"dispatch{n}.log").start() for n in range(count)]


async def wait_running(child: Child, timeout_s: float = 60) -> None:
    """Until the dispatcher printed that it runs (its start-up is not part of any latency)."""
    deadline = time.monotonic() + timeout_s
    while "running" not in child.log_tail():
        child.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"{child.name} not running after {timeout_s:.0f} s:\n{child.log_tail()}")
        await asyncio.sleep(0.1)


# ---- the phases ----


@dataclass
class Latency:
    first_attempt: list[float]
    delivered: list[float]


def aware(moment: Any) -> Any:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


async def latency_phase(
    args: argparse.Namespace,
    db: Database,
    bench_db: BenchDatabase,
    keyring: Keyring,
    seeded: Seeded,
    tmp: Path,
) -> Latency:
    """One dispatcher running; events committed one by one at --trickle-rate; commit → first attempt."""
    total = int(args.trickle_rate * args.trickle_seconds)
    console.print(f"  latency: {total} events committed one by one at {args.trickle_rate:g}/s, 1 dispatcher")
    children = await start_dispatchers(args, bench_db, keyring, tmp, 1)
    committed: dict[uuid.UUID, Any] = {}
    try:
        await wait_running(children[0])
        started = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / args.trickle_rate - time.perf_counter()))
            async with db.transaction() as session:
                event_id = await enqueue_visit(session, keyring, seeded.context, uuid.uuid4(), n)
            committed[event_id] = utcnow()
        deadline = time.monotonic() + 60
        while await delivered_count(db) < total:
            children[0].check_alive()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"trickle: not all delivered 60 s after the last commit:\n{children[0].log_tail()}"
                )
            await asyncio.sleep(0.1)
    finally:
        await stop_all(children)
    async with db.reader() as session:
        rows = (
            await session.execute(select(Delivery.event_id, Delivery.first_attempt_at, Delivery.delivered_at))
        ).all()
    first, done = [], []
    for event_id, first_at, delivered_at in rows:
        commit_at = committed[event_id]
        first.append((aware(first_at) - commit_at).total_seconds())
        done.append((aware(delivered_at) - commit_at).total_seconds())
    return Latency(first, done)


@dataclass
class Results:
    backend: str
    latency: Latency
    hub: dict[int, Run]
    floor: dict[int, Run]
    procrastinate: dict[int, Run]
    payload_bytes: int
    procrastinate_note: str = ""
    loads: list[str] = field(default_factory=list)


async def backend_bench(
    args: argparse.Namespace, backend: str, tmp: Path, http: aiohttp.ClientSession, sink: Sink
) -> Results:
    keyring = Keyring((secrets.token_bytes(32),))
    bench_db = await make_database(backend, tmp, args.postgres_dsn)
    console.rule(f"{backend}: database {bench_db.url.split('@')[-1]}")
    load_at_start = load_note()
    db: Database | None = None
    try:
        await upgrade_async(bench_db.url)
        db = Database(bench_db.url)
        seeded = await seed(db, keyring, sink.url)
        latency = await latency_phase(args, db, bench_db, keyring, seeded, tmp)
        await clear_outbox(db)
        started = time.perf_counter()
        await preload(db, keyring, seeded.context, args.events, args.events_per_member)
        console.print(f"  preloaded {args.events:,} events in {time.perf_counter() - started:.1f} s")
        bodies = await outbox_bodies(db)
        body_path = tmp / "body.json"
        body_path.write_text(bodies[0][2])
        processes = [1] if backend == "sqlite" else args.processes
        hub: dict[int, Run] = {}
        floor: dict[int, Run] = {}
        for count in processes:
            await reset_deliveries(db)
            hub[count] = await measure(
                http,
                sink,
                f"hub, {count} dispatch process(es)",
                args.events,
                functools.partial(start_dispatchers, args, bench_db, keyring, tmp, count),
                args.run_seconds,
            )
            await check_recorded(db, hub[count])
        for count in processes:
            floor[count] = await measure(
                http,
                sink,
                f"floor, {count} process(es)",
                args.events,
                functools.partial(start_floor, args, sink, body_path, tmp, count),
                args.run_seconds,
            )
        results = Results(backend, latency, hub, floor, {}, len(bodies[0][2].encode()))
        if backend == "postgres":
            await procrastinate_phase(args, bench_db, seeded, bodies, http, sink, tmp, results)
        results.loads = [load_at_start, load_note()]
        return results
    finally:
        if db is not None:
            await db.dispose()
        await bench_db.drop()


async def check_recorded(db: Database, run: Run) -> None:
    """Every POST the sink saw (in-flight ones drained at the stop) is recorded as delivered (not timed)."""
    got = await delivered_count(db)
    if got != run.after_stop:
        raise BenchError(
            f"{run.label}: {got} deliveries recorded as delivered, the sink got {run.after_stop}"
        )


async def start_floor(
    args: argparse.Namespace, sink: Sink, body_path: Path, tmp: Path, count: int
) -> list[Child]:
    shares = [args.events // count + (1 if n < args.events % count else 0) for n in range(count)]
    return [
        await Child(
            f"floor {n}",
            [sys.executable, SELF, "_floor", sink.url, str(share), str(args.concurrency), str(body_path)],
            base_env(),
            tmp / f"floor{n}.log",
        ).start()
        for n, share in enumerate(shares)
    ]


async def procrastinate_phase(
    args: argparse.Namespace,
    bench_db: BenchDatabase,
    seeded: Seeded,
    bodies: list[tuple[str, str, str]],
    http: aiohttp.ClientSession,
    sink: Sink,
    tmp: Path,
    results: Results,
) -> None:
    if not has_procrastinate():
        results.procrastinate_note = "procrastinate not installed: pip install procrastinate"
        console.print(f"  [yellow]{results.procrastinate_note}[/yellow] (row skipped)")
        return
    assert bench_db.postgres_dsn is not None  # noqa: S101  # postgres only
    app = procrastinate_app(bench_db.postgres_dsn, sink.url, seeded.signing_secret)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for count in args.processes:
            conn = await asyncpg.connect(bench_db.postgres_dsn)
            try:
                await conn.execute("TRUNCATE procrastinate_jobs CASCADE")
                await conn.execute("VACUUM ANALYZE procrastinate_jobs")
            finally:
                await conn.close()
            await defer_procrastinate(app, bodies)
            argv = [
                sys.executable,
                SELF,
                "_procrastinate",
                bench_db.postgres_dsn,
                sink.url,
                str(args.concurrency),
                seeded.signing_secret,
            ]

            async def start(c: int = count, argv: list[str] = argv) -> list[Child]:
                return [
                    await Child(f"procrastinate {n}", argv, base_env(), tmp / f"procrastinate{n}.log").start()
                    for n in range(c)
                ]

            results.procrastinate[count] = await measure(
                http, sink, f"procrastinate, {count} worker process(es)", args.events, start, args.run_seconds
            )


# ---- report ----


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def verdict(met: bool) -> str:
    return "[bold green]met[/bold green]" if met else "[bold red]NOT met[/bold red]"


def report(args: argparse.Namespace, r: Results) -> bool:
    table = Table(
        title=f"{r.backend}: commit → delivery, 1 dispatcher, {len(r.latency.first_attempt)} events trickled"
    )
    for column in ("measured", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "measured" else "right")
    for name, values in (
        ("commit → first attempt", r.latency.first_attempt),
        ("commit → delivered", r.latency.delivered),
    ):
        table.add_row(
            name,
            *(f"{v * 1000:.0f}" for v in (percentile(values, 0.5), percentile(values, 0.99), max(values))),
        )
    console.print(table)
    p99 = percentile(r.latency.first_attempt, 0.99)
    latency_met = p99 < LATENCY_GOAL_S
    console.print(
        f"goal: p99 commit → first attempt < {LATENCY_GOAL_S:.0f} s: {p99 * 1000:.0f} ms "
        f"→ {verdict(latency_met)}"
    )

    table = Table(
        title=f"{r.backend}: {args.events:,} preloaded events → local sink, "
        f"{args.concurrency} in flight per process, payload {r.payload_bytes} B"
    )
    for column in (
        "processes",
        "hub /s",
        "speed-up",
        "floor /s",
        "hub/floor",
        "procrastinate /s",
        "hub/procr.",
    ):
        table.add_column(column, justify="right")
    one = r.hub[min(r.hub)].rate
    met = latency_met
    for count, run in r.hub.items():
        floor = r.floor[count].rate
        procr = r.procrastinate.get(count)
        met = (
            met
            and run.rate >= FLOOR_TARGET * floor
            and (procr is None or run.rate >= PROCRASTINATE_TARGET * procr.rate)
        )
        table.add_row(
            str(count),
            f"{run.rate:,.0f}",
            f"{run.rate / one:.2f}x",
            f"{floor:,.0f}",
            f"{run.rate / floor:.2f}x",
            f"{procr.rate:,.0f}" if procr else "-",
            f"{run.rate / procr.rate:.2f}x" if procr else "-",
        )
    console.print(table)
    if r.backend == "sqlite":
        console.print(
            "SQLite: one dispatcher process only; several share one file lock and take turns writing"
        )
    if r.procrastinate_note:
        console.print(r.procrastinate_note)
    console.print(
        f"targets: hub ≥ {FLOOR_TARGET}x the floor (raw aiohttp POST loop, same processes x "
        f"concurrency, same payload, same sink), hub ≥ {PROCRASTINATE_TARGET:.0f}x procrastinate (same "
        f"deliveries, signed, locked per member, same PostgreSQL) → {verdict(met)}"
    )
    console.print(
        f"rates: steady part of each run (10 % → 90 % arrived at the sink, "
        f"{args.sink_workers} sink processes); {MACHINE_NOTE}"
    )
    console.print(
        f"machine during this backend: at start {r.loads[0]}; at end {r.loads[1]} "
        "(other work on the machine shows here: the bench's own children are at most "
        f"{args.sink_workers} sink + {max(args.processes)} workers + the database)"
    )
    return met


# ---- main ----


async def bench(args: argparse.Namespace) -> bool:
    console.print(f"machine: {MACHINE_NOTE}")
    with tempfile.TemporaryDirectory(prefix="hub-bench-dispatch-") as tmp_name:
        tmp = Path(tmp_name)
        async with aiohttp.ClientSession() as http:
            sink = await start_sink(http, args.sink_workers, tmp)
            try:
                results = [await backend_bench(args, backend, tmp, http, sink) for backend in args.backends]
            finally:
                await stop_all(sink.children)
    return all([report(args, r) for r in results])


async def bounded(work: Callable[[], Awaitable[bool]], deadline_s: float) -> bool:
    """The whole run under a deadline; SIGTERM cancels it like Ctrl-C does, so children stop either way."""
    task = asyncio.current_task()
    assert task is not None  # noqa: S101  # called inside asyncio.run
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with asyncio.timeout(deadline_s):
        return await work()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--events", type=int, default=5_000, help="preloaded events per run (default 5000)")
    parser.add_argument("--events-per-member", type=int, default=4, help="events per guest (default 4)")
    parser.add_argument(
        "--processes", default="1,2,4", help="dispatcher process counts on PostgreSQL (default 1,2,4)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="deliveries in flight per process (default 16)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="coalition-hub dispatch --batch-size (default 64)"
    )
    parser.add_argument("--sink-workers", type=int, default=2, help="sink processes on one port (default 2)")
    parser.add_argument(
        "--trickle-rate", type=float, default=20, help="events/s for the latency run (default 20)"
    )
    parser.add_argument(
        "--trickle-seconds", type=float, default=10, help="length of the latency run (default 10)"
    )
    parser.add_argument(
        "--run-seconds", type=float, default=30, help="each throughput run stops after this (default 30)"
    )
    parser.add_argument("--deadline", type=float, default=600, help="seconds before the run is abandoned")
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("HUB_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="where to create (and drop) the bench database",
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is not met")
    args = parser.parse_args(argv)
    args.backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    args.processes = sorted({int(p) for p in args.processes.split(",")})
    if args.events < 10 or args.concurrency < 1 or args.sink_workers < 1 or min(args.processes) < 1:
        parser.error("--events ≥ 10; --concurrency, --sink-workers and --processes positive")
    if args.trickle_rate <= 0 or args.trickle_seconds <= 0 or args.events_per_member < 1:
        parser.error("--trickle-rate, --trickle-seconds and --events-per-member must be positive")
    return args


def child_role(argv: list[str]) -> bool:
    """The bench's own child processes: `_sink`, `_floor`, `_procrastinate` (not for use by hand)."""
    role, rest = argv[0], argv[1:]
    if role == "_sink":
        sink_main(int(rest[0]), int(rest[1]))
    elif role == "_floor":
        floor_main(rest[0], int(rest[1]), int(rest[2]), rest[3])
    elif role == "_procrastinate":
        procrastinate_main(rest[0], rest[1], int(rest[2]), rest[3])
    else:
        return False
    return True


def main(argv: list[str]) -> int:
    if argv and child_role(argv):
        return 0
    args = parse_args(argv)
    try:
        met = asyncio.run(bounded(lambda: bench(args), args.deadline))
    except TimeoutError:
        console.print(f"[red]abandoned after the {args.deadline:.0f} s deadline[/red]")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the child processes are stopped[/yellow]")
        return 130
    except asyncio.CancelledError:  # SIGTERM
        console.print("[yellow]terminated; the child processes are stopped[/yellow]")
        return 143
    except BenchError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        kill_leftovers()
    return 0 if met or not args.strict else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
