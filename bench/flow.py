"""Guest-flow latency over HTTP: N terminals doing scan → PIN → receipt against a real hub process,
beside a same-run floor: a bare Litestar endpoint (bench/floor_app.py) doing one INSERT + COMMIT on
the same database, driven with the same concurrency. Target: the hub's scan+pin+receipt p50 is at
most 1.5 x three floor calls.

    .venv/bin/python bench/flow.py                        # SQLite in a temp dir, 8 terminals x 25 flows
    .venv/bin/python bench/flow.py --backend postgres     # a fresh database on 127.0.0.1:5432, dropped after
    .venv/bin/python bench/flow.py --terminals 16 --flows 50 --deadline 600

Both servers run as child processes on free loopback ports and are stopped at the end, on errors and
on Ctrl-C. The PIN is read from the console gateway's inbox (GET /dev/sms); that read is shown but is
not one of the timed steps. Each flow uses a member of its own and each terminal key serves at most
25 PIN sends, so the per-card and per-terminal SMS limits are never reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/flow.py` runs with bench/ first on the path

from bench.children import HOST, BenchError, Server, free_port, kill_leftovers  # noqa: E402  # after the path

BIN = Path(sys.executable).parent
STEPS = ("scan", "pin", "receipt")
FLOWS_PER_TERMINAL_KEY = 25  # the hub allows 30 PIN sends per terminal per 10 minutes
TARGET_FACTOR = 1.5
PIN_RE = re.compile(r"\b(\d{4,10})\b")
RECEIPT_ITEMS = [
    {"name": "Borscht", "category": "food", "quantity": 1, "unit_price_minor": 45_000},
    {"name": "Pelmeni", "category": "food", "quantity": 2, "unit_price_minor": 62_000},
    {"name": "Saperavi", "category": "alcohol", "quantity": 1, "unit_price_minor": 120_000},
]

console = Console()
Json = dict[str, Any]


# ---- databases ----


@dataclass
class BenchDatabase:
    url: str
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
    base = postgres_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return BenchDatabase(f"{base}/{name}", postgres_admin_dsn=postgres_dsn, postgres_name=name)


# ---- HTTP ----


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    expect: int,
    key: str | None = None,
    body: Any = None,
    data: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    async with http.request(method, url, json=body, data=data, headers=all_headers) as response:
        raw = await response.read()
        if response.status != expect:
            raise BenchError(f"{method} {url} → {response.status} (expected {expect}): {raw[:500]!r}")
        return await response.json() if raw else None


@dataclass(frozen=True)
class Guest:
    card_number: str
    phone: str


@dataclass
class Seeded:
    terminal_keys: list[list[str]]  # per worker, each key used for at most FLOWS_PER_TERMINAL_KEY flows
    guests: list[list[Guest]]  # per worker, one guest per flow


async def seed(http: aiohttp.ClientSession, hub: str, admin: str, workers: int, flows: int) -> Seeded:
    """A coalition program with a program-wide offer, one venue per worker, its terminals, the members."""
    program = await call(
        http,
        "POST",
        f"{hub}/v1/programs",
        key=admin,
        expect=201,
        body={
            "name": "Bench Coalition",
            "kind": "coalition",
            "currency": "RUB",
            "card_rules": [{"type": "prefix", "value": "77"}],
            "tiers": [
                {"code": "silver", "name": "Silver", "discount_percent": 10},
                {"code": "gold", "name": "Gold", "discount_percent": 15},
            ],
        },
    )
    await call(
        http,
        "POST",
        f"{hub}/v1/offers",
        key=admin,
        expect=201,
        body={"program_id": program["id"], "discount_percent": 10, "excluded_categories": ["alcohol"]},
    )
    partner = await call(http, "POST", f"{hub}/v1/partners", key=admin, expect=201, body={"name": "Bench"})
    keys_each = math.ceil(flows / FLOWS_PER_TERMINAL_KEY)
    terminal_keys: list[list[str]] = []
    for w in range(workers):
        venue = await call(
            http,
            "POST",
            f"{hub}/v1/venues",
            key=admin,
            expect=201,
            body={
                "partner_id": partner["id"],
                "name": f"Bench venue {w}",
                "city": "Moscow",
                "district": "Arbat",
                "timezone": "Europe/Moscow",
            },
        )
        keys = []
        for t in range(keys_each):
            made = await call(
                http,
                "POST",
                f"{hub}/v1/venues/{venue['id']}/terminals",
                key=admin,
                expect=201,
                body={"name": f"Till {w}.{t}"},
            )
            keys.append(made["api_key"])
        terminal_keys.append(keys)
    guests = [
        [Guest(f"77{w * flows + i:011d}", f"+7916{w * flows + i:07d}") for i in range(flows)]
        for w in range(workers)
    ]
    rows = ["card_number,phone,name,tier_code"]
    rows += [
        f"{g.card_number},{g.phone},Guest,{'gold' if i % 5 == 0 else 'silver'}"
        for i, g in enumerate_all(guests)
    ]
    report = await call(
        http,
        "POST",
        f"{hub}/v1/programs/{program['id']}/members/import",
        key=admin,
        expect=200,
        data="\n".join(rows) + "\n",
        headers={"Content-Type": "text/csv"},
    )
    if report["rejected"] or report["created"] != workers * flows:
        raise BenchError(f"member import: {report}")
    return Seeded(terminal_keys, guests)


def enumerate_all(guests: list[list[Guest]]) -> list[tuple[int, Guest]]:
    return list(enumerate(g for worker in guests for g in worker))


# ---- the two workloads ----


async def run_all(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """All jobs at once; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


@dataclass
class Timings:
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in (*STEPS, "sms read")})

    def add(self, step: str, seconds: float) -> None:
        self.steps[step].append(seconds)


async def read_pin(http: aiohttp.ClientSession, hub: str, phone: str) -> str:
    """The newest console SMS to this phone (each guest gets one PIN per run)."""
    for _ in range(50):
        messages = await call(
            http, "GET", f"{hub}/dev/sms", expect=200, headers={"Accept": "application/json"}
        )
        for message in messages:
            if message["to"] == phone:
                match = PIN_RE.search(message["text"])
                if match is None:
                    raise BenchError(f"no PIN in the SMS text {message['text']!r}")
                return match.group(1)
        await asyncio.sleep(0.01)
    raise BenchError(f"no SMS to {phone} in /dev/sms")


async def guest_flow(
    http: aiohttp.ClientSession, hub: str, key: str, guest: Guest, timings: Timings | None
) -> None:
    """scan → PIN (read from the inbox) → receipt; timings is None during warm-up."""
    started = time.perf_counter()
    scan = await call(http, "POST", f"{hub}/v1/scans", key=key, expect=201, body={"code": guest.card_number})
    scanned = time.perf_counter()
    if scan["status"] != "pin_required":
        raise BenchError(f"scan answered {scan}")
    pin = await read_pin(http, hub, guest.phone)
    read = time.perf_counter()
    verified = await call(
        http, "POST", f"{hub}/v1/scans/{scan['scan_id']}/pin", key=key, expect=200, body={"pin": pin}
    )
    pinned = time.perf_counter()
    receipt = {
        "check_id": f"bench-{uuid.uuid4().hex}",
        "currency": "RUB",
        "closed_at": datetime.now(UTC).isoformat(),
        "items": RECEIPT_ITEMS,
    }
    await call(
        http, "POST", f"{hub}/v1/visits/{verified['visit_id']}/receipt", key=key, expect=201, body=receipt
    )
    closed = time.perf_counter()
    if timings is not None:
        timings.add("scan", scanned - started)
        timings.add("sms read", read - scanned)
        timings.add("pin", pinned - read)
        timings.add("receipt", closed - pinned)


async def run_hub(hub: str, seeded: Seeded, warmup: int) -> tuple[Timings, float, int]:
    timings = Timings()
    gate = asyncio.Barrier(len(seeded.guests))
    measured_from: list[float] = []

    async def terminal(w: int) -> None:
        async with aiohttp.ClientSession() as http:
            for i, guest in enumerate(seeded.guests[w]):
                if i == warmup:
                    await gate.wait()  # every terminal warmed up: the measured part starts together
                    measured_from.append(time.perf_counter())
                key = seeded.terminal_keys[w][i // FLOWS_PER_TERMINAL_KEY]
                await guest_flow(http, hub, key, guest, timings if i >= warmup else None)

    await run_all([terminal(w) for w in range(len(seeded.guests))])
    elapsed = time.perf_counter() - min(measured_from)
    return timings, elapsed, len(timings.steps["scan"])


async def run_floor(floor: str, workers: int, calls: int, warmup: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    gate = asyncio.Barrier(workers)
    measured_from: list[float] = []

    async def terminal(w: int) -> None:
        async with aiohttp.ClientSession() as http:
            for i in range(warmup + calls):
                if i == warmup:
                    await gate.wait()
                    measured_from.append(time.perf_counter())
                started = time.perf_counter()
                await call(http, "POST", f"{floor}/floor", expect=201, body={"terminal": w})
                if i >= warmup:
                    latencies.append(time.perf_counter() - started)

    await run_all([terminal(w) for w in range(workers)])
    return latencies, time.perf_counter() - min(measured_from)


# ---- report ----


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


@dataclass
class Results:
    backend: str
    workers: int
    flows: int
    hub: Timings
    hub_elapsed: float
    hub_flows: int
    floor: list[float]
    floor_elapsed: float


def report(r: Results) -> bool:
    floor50, floor99 = percentile(r.floor, 0.5), percentile(r.floor, 0.99)
    table = Table(
        title=f"guest flow over HTTP, {r.backend}: {r.workers} terminals x {r.flows} flows "
        f"(floor: {r.workers} clients x {len(r.floor) // r.workers} calls), {os.cpu_count()} CPUs"
    )
    for column in ("step", "n", "p50 ms", "p99 ms", "mean ms", "p50/floor", "p99/floor"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in (*STEPS, "sms read"):
        values = r.hub.steps[step]
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        label = step if step in STEPS else "sms read*"
        table.add_row(
            label,
            str(len(values)),
            ms(p50),
            ms(p99),
            ms(sum(values) / len(values)),
            f"{p50 / floor50:.1f}x",
            f"{p99 / floor99:.1f}x",
        )
    table.add_row(
        "floor",
        str(len(r.floor)),
        ms(floor50),
        ms(floor99),
        ms(sum(r.floor) / len(r.floor)),
        "1.0x",
        "1.0x",
        style="dim",
    )
    console.print(table)
    console.print(
        "floor: one INSERT + COMMIT through a bare Litestar app; "
        "*sms read: GET /dev/sms for the PIN, not a terminal step, outside the target"
    )
    console.print(
        f"hub: {r.hub_flows / r.hub_elapsed:.1f} flows/s ({r.hub_flows} flows in {r.hub_elapsed:.2f} s)   "
        f"floor: {len(r.floor) / r.floor_elapsed:.1f} calls/s"
    )
    hub_p50 = sum(percentile(r.hub.steps[s], 0.5) for s in STEPS)
    budget = TARGET_FACTOR * 3 * floor50
    met = hub_p50 <= budget
    verdict = "[bold green]met[/bold green]" if met else "[bold red]NOT met[/bold red]"
    console.print(
        f"target: scan+pin+receipt p50 ≤ {TARGET_FACTOR} x three floor calls: "
        f"{ms(hub_p50)} ms vs {TARGET_FACTOR} x 3 x {ms(floor50)} ms = {ms(budget)} ms → {verdict} "
        f"(hub = {hub_p50 / (3 * floor50):.2f} x three floor calls)"
    )
    return met


# ---- main ----


@contextlib.asynccontextmanager
async def servers(db: BenchDatabase, tmp: Path, admin: str) -> AsyncIterator[tuple[Server, Server]]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    hub_port, floor_port = free_port(), free_port()
    hub = Server(
        "hub",
        [str(BIN / "coalition-hub"), "serve"],
        {
            **base_env,
            "HUB_DATABASE_URL": db.url,
            "HUB_HOST": HOST,
            "HUB_PORT": str(hub_port),
            "HUB_ADMIN_KEY": admin,
            "HUB_VAR_DIR": str(tmp),
            "HUB_SMS_URL": "console://",
        },
        tmp / "hub.log",
        port=hub_port,
    )
    floor = Server(
        "floor",
        [
            *(str(BIN / "python"), "-m", "uvicorn", "bench.floor_app:app"),
            *("--host", HOST, "--port", str(floor_port), "--log-level", "warning", "--no-access-log"),
        ],
        {**base_env, "FLOOR_DATABASE_URL": db.url, "PYTHONPATH": str(ROOT)},
        tmp / "floor.log",
        port=floor_port,
    )
    try:
        async with aiohttp.ClientSession() as http:
            await hub.start()
            await hub.wait_ready(http)  # the hub migrates the database; the floor adds its table after
            await floor.start()
            await floor.wait_ready(http)
        yield hub, floor
    finally:
        await asyncio.gather(hub.stop(), floor.stop())


async def bench(args: argparse.Namespace) -> bool:
    admin = f"bench_admin_{secrets.token_urlsafe(24)}"
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = await make_database(args.backend, tmp, args.postgres_dsn)
        try:
            async with servers(db, tmp, admin) as (hub, floor):
                console.print(f"hub on {hub.url}, floor on {floor.url}, database {db.url.split('@')[-1]}")
                flows_each = args.warmup + args.flows
                async with aiohttp.ClientSession() as http:
                    seeded = await seed(http, hub.url, admin, args.terminals, flows_each)
                floor_times, floor_elapsed = await run_floor(
                    floor.url, args.terminals, 3 * args.flows, 3 * args.warmup
                )
                hub_times, hub_elapsed, hub_flows = await run_hub(hub.url, seeded, args.warmup)
        finally:
            await db.drop()
    return report(
        Results(
            args.backend,
            args.terminals,
            args.flows,
            hub_times,
            hub_elapsed,
            hub_flows,
            floor_times,
            floor_elapsed,
        )
    )


async def bounded(work: Callable[[], Awaitable[bool]], deadline_s: float) -> bool:
    """The whole run under a deadline; SIGTERM cancels it like Ctrl-C does, so servers stop either way."""
    task = asyncio.current_task()
    assert task is not None  # noqa: S101  # called inside asyncio.run
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with asyncio.timeout(deadline_s):
        return await work()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--terminals", type=int, default=8, help="concurrent terminals (default 8)")
    parser.add_argument("--flows", type=int, default=25, help="measured flows per terminal (default 25)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="unmeasured flows per terminal first (default 3)"
    )
    parser.add_argument("--deadline", type=float, default=300, help="seconds before the run is abandoned")
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("HUB_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="where to create (and drop) the bench database",
    )
    parser.add_argument("--strict", action="store_true", help="exit 3 when the target is not met")
    args = parser.parse_args(argv)
    if args.terminals < 1 or args.flows < 1 or args.warmup < 0:
        parser.error("--terminals and --flows must be positive, --warmup not negative")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        met = asyncio.run(bounded(lambda: bench(args), args.deadline))
    except TimeoutError:
        console.print(f"[red]abandoned after the {args.deadline:.0f} s deadline[/red]")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the servers are stopped[/yellow]")
        return 130
    except asyncio.CancelledError:  # SIGTERM
        console.print("[yellow]terminated; the servers are stopped[/yellow]")
        return 143
    except BenchError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        kill_leftovers()
    return 0 if met or not args.strict else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
