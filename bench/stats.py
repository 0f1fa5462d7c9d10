"""Venue statistics speed on PostgreSQL at 1 M and 10 M visits: a month of one venue's stats through the
service function (the rollups), beside the same-run time of a bare `SELECT count(*)` of that venue's month
from the visits table.

    .venv/bin/python bench/stats.py [--sizes 1000000,10000000] [--budget 900]

Data is generated inside PostgreSQL (INSERT … SELECT over generate_series, in 1 M-row batches, foreign-key
triggers off for the session): Python would spend longer building the rows than the server spends writing
them. The rollups are then written from the generated visits and their receipts with one GROUP BY each
(venue-local dates of verification via AT TIME ZONE), as `stats rebuild` computes them. A size is skipped,
with the reason printed, when the previous size's pace says it would not fit in the time budget, and
generation stops at a batch edge once the budget is spent. On the 2-core development box 1 M takes ~76 s;
past ~2 M the random-UUID indexes of scans, visits and receipts outgrow memory and each further million
takes ~3 min, so 10 M does not fit a few minutes there: the run stops and measures the size it reached.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import statistics
import time
import uuid

import asyncpg

from hub.db import Database
from hub.db.migrate import upgrade
from hub.scope import ADMIN
from hub.stats import service

BASE_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
VENUES, PARTNERS, PROGRAMS, MEMBERS = 200, 20, 3, 200_000
BATCH = 1_000_000
SPAN_SECONDS = 730 * 86_400  # two years of visits
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
MONTH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
REPEATS = 30


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


REGISTRY_SQL = f"""
INSERT INTO partners (id, name, created_at, updated_at)
  SELECT gen_random_uuid(), 'Partner ' || g, now(), now() FROM generate_series(1, {PARTNERS}) g;
CREATE TABLE bench_partners AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM partners;
INSERT INTO venues (id, partner_id, name, city, district, timezone, created_at, updated_at)
  SELECT gen_random_uuid(), p.id, 'Venue ' || g, 'Moscow', 'District ' || (g % 10), 'Europe/Moscow',
         now(), now()
  FROM generate_series(0, {VENUES - 1}) g JOIN bench_partners p ON p.n = g % {PARTNERS};
INSERT INTO terminals (id, venue_id, name, created_at, updated_at)
  SELECT gen_random_uuid(), id, 'Till', now(), now() FROM venues;
CREATE TABLE bench_venues AS
  SELECT row_number() OVER (ORDER BY v.id) - 1 AS n, v.id, v.partner_id, t.id AS terminal_id
  FROM venues v JOIN terminals t ON t.venue_id = v.id;
INSERT INTO programs (id, name, kind, currency, card_rules, pin_policy, sms_template, fees,
                      signing_public_keys, created_at, updated_at)
  SELECT gen_random_uuid(), 'Program ' || g, 'coalition', 'RUB', '[]', '{{}}', '', '{{}}', '[]', now(), now()
  FROM generate_series(1, {PROGRAMS}) g;
CREATE TABLE bench_programs AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM programs;
INSERT INTO members (id, program_id, card_number, phone_ciphertext, phone_index, phone_masked, tier_code,
                     status, bonus_balance_minor, created_at, updated_at)
  SELECT gen_random_uuid(), p.id, '77' || g, '\\x00', 'i' || g, '+7***',
         CASE WHEN g % 5 = 0 THEN 'gold' ELSE 'silver' END,
         'active', 0, now(), now()
  FROM generate_series(0, {MEMBERS - 1}) g JOIN bench_programs p ON p.n = g % {PROGRAMS};
CREATE TABLE bench_members AS
  SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, program_id, tier_code FROM members;
CREATE UNIQUE INDEX ON bench_members (n);
CREATE UNIQUE INDEX ON bench_venues (n);
"""  # noqa: S608  # the script's own constants, no input

# one statement writes a batch of scans, visits and receipts (data-modifying CTEs over one source)
FACTS_SQL = f"""
WITH src AS (
  SELECT g, gen_random_uuid() AS scan_id, gen_random_uuid() AS visit_id,
         m.id AS member_id, m.program_id, m.tier_code, v.id AS venue_id, v.partner_id, v.terminal_id,
         $3::timestamptz + ((g::bigint * 2654435761) % {SPAN_SECONDS}) * interval '1 second' AS at,
         10000 + (g * 7919) % 500000 AS subtotal
  FROM generate_series($1::bigint, $2::bigint) g
  JOIN bench_members m ON m.n = (g * 104729) % {MEMBERS}
  JOIN bench_venues v ON v.n = (g * 31 + g / 7) % {VENUES}
), scans_in AS (
  INSERT INTO scans (id, terminal_id, venue_id, program_id, member_id, matched_by, status, created_at)
  SELECT scan_id, terminal_id, venue_id, program_id, member_id, 'prefix', 'verified', at FROM src
), visits_in AS (
  INSERT INTO visits (id, scan_id, program_id, member_id, venue_id, partner_id, terminal_id, tier_code,
                      discount_bp, excluded_categories, perks, coalition_funded_bp, status, verified_at,
                      closed_at)
  SELECT visit_id, scan_id, program_id, member_id, venue_id, partner_id, terminal_id, tier_code,
         1000, '[]', '[]', 0, 'closed', at, at + interval '1 hour' FROM src
)
INSERT INTO receipts (id, visit_id, venue_id, program_id, member_id, check_id, request_hash, currency,
                      closed_at, subtotal_minor, discount_minor, bonus_spent_minor, bonus_accrued_minor,
                      total_minor, item_count, lines, refunded_minor, refunded_discount_minor, created_at)
SELECT gen_random_uuid(), visit_id, venue_id, program_id, member_id, 'c' || g, '', 'RUB',
       at + interval '1 hour',
       subtotal, subtotal / 10, 0, 0, subtotal - subtotal / 10, 1 + g % 6, '[]',
       CASE WHEN g % 50 = 0 THEN (subtotal - subtotal / 10) / 2 ELSE 0 END,
       CASE WHEN g % 50 = 0 THEN subtotal / 20 ELSE 0 END, at + interval '1 hour'
FROM src
"""  # noqa: S608  # the script's own constants, no input

ROLLUP_SQL = """
TRUNCATE stats_daily, stats_daily_guests;
INSERT INTO stats_daily (venue_id, local_date, program_id, tier_code, visits, checked, receipts,
                         check_sum_minor, discount_sum_minor, items, refunds_minor, refunded_discount_minor)
SELECT vi.venue_id, (vi.verified_at AT TIME ZONE v.timezone)::date, vi.program_id, coalesce(vi.tier_code, ''),
       count(*), count(r.id),
       count(r.id) FILTER (WHERE NOT (r.total_minor > 0 AND r.refunded_minor >= r.total_minor)),
       coalesce(sum(r.total_minor), 0), coalesce(sum(r.discount_minor), 0), coalesce(sum(r.item_count), 0),
       coalesce(sum(r.refunded_minor), 0), coalesce(sum(r.refunded_discount_minor), 0)
FROM visits vi JOIN venues v ON v.id = vi.venue_id LEFT JOIN receipts r ON r.visit_id = vi.id
WHERE vi.status <> 'cancelled'
GROUP BY 1, 2, 3, 4;
INSERT INTO stats_daily_guests (venue_id, local_date, program_id, member_id, tier_code, visits)
SELECT vi.venue_id, (vi.verified_at AT TIME ZONE v.timezone)::date, vi.program_id, vi.member_id,
       coalesce(vi.tier_code, ''), count(*)
FROM visits vi JOIN venues v ON v.id = vi.venue_id
WHERE vi.status <> 'cancelled'
GROUP BY 1, 2, 3, 4, 5;
ANALYZE;
"""


async def generate(conn: asyncpg.Connection, have: int, want: int, deadline: float) -> int:
    """Write visits up to `want` (stopping at a batch edge past the deadline), then the rollups; how many."""
    await conn.execute(
        "SET session_replication_role = replica"
    )  # no FK triggers: the generator is consistent
    for low in range(have, want, BATCH):
        high = min(low + BATCH, want) - 1
        await conn.execute(FACTS_SQL, low, high, START)
        print(f"  … {high + 1:>10,} visits", flush=True)
        if time.perf_counter() > deadline and high + 1 < want:
            # random UUID keys: once the indexes outgrow memory every batch is slower than the last
            print(f"  stopped at {high + 1:,}: over the time budget (index writes outgrew memory)")
            want = high + 1
            break
    await conn.execute(ROLLUP_SQL)
    return want


async def timed(repeats: int, work: object) -> tuple[float, float]:
    """Median and worst of `repeats` runs, in milliseconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


async def measure(url: str, conn: asyncpg.Connection) -> None:
    venue_id: uuid.UUID = await conn.fetchval("SELECT id FROM venues ORDER BY name LIMIT 1")
    since = dt.datetime.combine(MONTH[0], dt.time(), tzinfo=dt.UTC) - dt.timedelta(hours=3)
    until = dt.datetime.combine(MONTH[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - dt.timedelta(
        hours=3
    )
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

            async def stats() -> None:
                await service.venue_stats(
                    session, ADMIN, venue_id, now=now, date_from=MONTH[0], date_to=MONTH[1]
                )

            async def bare() -> None:
                await conn.fetchval(
                    "SELECT count(*) FROM visits"
                    " WHERE venue_id = $1 AND verified_at >= $2 AND verified_at < $3",
                    venue_id,
                    since,
                    until,
                )

            await stats()
            await bare()  # warm both
            answer = await service.venue_stats(
                session, ADMIN, venue_id, now=now, date_from=MONTH[0], date_to=MONTH[1]
            )
            stats_ms = await timed(REPEATS, stats)
            bare_ms = await timed(REPEATS, bare)
    finally:
        await database.dispose()
    total = await conn.fetchval("SELECT count(*) FROM visits")
    print(
        f"{total:>11,} visits | venue month: {answer.visits:,} visits, {answer.unique_guests:,} guests | "
        f"stats (service, rollups) median {stats_ms[0]:.1f} ms, max {stats_ms[1]:.1f} ms | "
        f"bare SELECT count(*) median {bare_ms[0]:.1f} ms, max {bare_ms[1]:.1f} ms",
        flush=True,
    )


async def main(sizes: list[int], budget: float) -> None:
    name = f"hub_bench_stats_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn(BASE_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE_URL.rsplit("/", 1)[0] + "/" + name
    began = time.perf_counter()
    try:
        await asyncio.to_thread(upgrade, url)
        conn = await asyncpg.connect(dsn(url))
        try:
            await conn.execute(REGISTRY_SQL)
            have, pace = 0, 0.0
            for size in sorted(sizes):
                left = budget - (time.perf_counter() - began)
                if pace and (size - have) * pace > left:
                    print(
                        f"{size:,}: skipped: at {1 / pace:,.0f} visits/s it needs"
                        f" ~{(size - have) * pace:.0f} s, "
                        f"{left:.0f} s of the budget are left"
                    )
                    break
                started = time.perf_counter()
                size = await generate(conn, have, size, began + budget)
                spent = time.perf_counter() - started
                pace = spent / (size - have)
                print(f"generated {size - have:,} visits, receipts and scans plus rollups in {spent:.0f} s")
                have = size
                await measure(url, conn)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of generation, about")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.budget))
