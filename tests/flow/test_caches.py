"""The per-process caches of the request path (API keys, reference rows, rate-limit leases) never serve
what this process has already changed, and the leases never let a key past its limit."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.auth import KEY_CACHE
from hub.db import Database
from hub.db.cache import WatchedCache
from hub.flow.catalog import CATALOG
from hub.ratelimit import Leases, RateLimitWindow
from partners.models import Offer, Partner, Program
from tests.conftest import ADMIN
from tests.flow.conftest import World, receipt_body


async def test_a_load_racing_a_change_is_not_kept() -> None:
    """A value read while a watched change is being made is answered but not stored."""
    cache = WatchedCache("test-race", Program, seconds=60)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_loader() -> str:
        started.set()
        await release.wait()
        return "read before the change"

    load = asyncio.create_task(cache.load("k", slow_loader))
    await started.wait()
    cache.invalidate()  # what a commit changing a program does meanwhile
    release.set()
    assert await load == "read before the change"
    assert cache.lookup("k") == (False, None)

    async def fresh() -> str:
        return "fresh"

    assert await cache.load("k", fresh) == "fresh"
    assert cache.lookup("k") == (True, "fresh")


async def test_commits_to_watched_tables_empty_the_cache(db: Database) -> None:
    """An ORM change to a watched class empties the cache on commit; other tables leave it alone."""

    async def cached() -> str:
        return "value"

    await CATALOG.load(("probe",), cached)
    async with db.transaction() as session:
        await session.scalar(select(func.count()).select_from(Offer))  # reading changes nothing
    assert CATALOG.lookup(("probe",)) == (True, "value")
    async with db.transaction() as session:
        session.add(Partner(name="Cache probe"))
    assert CATALOG.lookup(("probe",)) == (False, None)


async def test_an_offer_changed_through_the_api_applies_to_the_next_visit(world: World) -> None:
    """The catalog was just used by a visit; the admin raises the discount; the next visit gets it."""
    first = await world.verified_visit()
    closed = await world.client.post(f"/v1/visits/{first}/receipt", json=receipt_body(), headers=world.till)
    assert closed.status_code == 201, closed.text
    changed = await world.client.patch(
        f"/v1/offers/{world.offer['id']}", json={"discount_percent": 25}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    second = await world.verified_visit()
    quote = await world.client.post(
        f"/v1/visits/{second}/quote",
        json={k: receipt_body()[k] for k in ("currency", "items")},
        headers=world.till,
    )
    assert quote.status_code == 200, quote.text
    assert closed.json()["discount_minor"] == 25_000  # 10 % of the food line
    assert quote.json()["discount_minor"] == 62_500  # 25 % of it, at once


async def test_a_card_rule_removed_stops_matching_at_once(world: World) -> None:
    """The recognition index was just used; the program drops its card prefix; the card is unknown."""
    assert (await world.scan()).status_code == 201
    rules = [r for r in world.program["card_rules"] if r["type"] != "prefix"]
    changed = await world.client.patch(
        f"/v1/programs/{world.program['id']}", json={"card_rules": rules}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    unknown = await world.scan()
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["code"] == "card_not_recognized"


async def test_a_cached_key_revoked_here_stops_at_once(world: World) -> None:
    """The terminal's key is in the key cache (it just scanned); revoking it refuses the next request."""
    assert (await world.scan()).status_code == 201
    assert len(KEY_CACHE) > 0
    keys = (await world.client.get("/v1/keys", headers=ADMIN)).json()["items"]
    (till_key,) = [
        k for k in keys if k["role"] == "terminal" and world.terminal_key.startswith(k["key_prefix"])
    ]
    assert (await world.client.delete(f"/v1/keys/{till_key['id']}", headers=ADMIN)).status_code == 204
    refused = await world.scan()
    assert refused.status_code == 401


# ---- rate-limit leases ----


async def test_a_busy_key_writes_its_count_in_leases(db: Database) -> None:
    """Far from the limit a key costs one write per block, not one per request; near it, one per hit."""
    leases = Leases()
    taken = [await leases.take(db, "busy-key", 1, 800) for _ in range(200)]
    assert all(taken)
    async with db.reader() as session:
        row = await session.get(RateLimitWindow, ("busy-key", 1))
    assert row is not None
    # blocks of an eighth of what is left: 100, then 87 (101 hits leased so far), then 76 …
    assert 200 <= row.hits <= 200 + 800 // 8


async def test_leases_of_several_processes_never_pass_the_limit(db: Database) -> None:
    """Three processes spending one key's minute: together they are never let past the limit, and
    they lose at most a few hits to leases left unspent."""
    processes = [Leases() for _ in range(3)]
    limit = 40
    granted = 0
    for turn in range(120):
        if await processes[turn % 3].take(db, "shared-key", 7, limit):
            granted += 1
    assert limit - 3 * (limit // 8) <= granted <= limit
    async with db.reader() as session:
        row = await session.get(RateLimitWindow, ("shared-key", 7))
    assert row is not None
    assert row.hits >= limit


async def test_a_new_minute_starts_a_new_lease(db: Database) -> None:
    """A lease belongs to its minute: the next minute starts from nothing."""
    leases = Leases()
    assert await leases.take(db, "minute-key", 100, 1)
    assert not await leases.take(db, "minute-key", 100, 1)
    assert await leases.take(db, "minute-key", 101, 1)


async def test_concurrent_requests_share_one_lease(db: Database) -> None:
    """Fifty requests of one key at once wait for one lease instead of each leasing a block: far from
    the limit all pass; with a limit of ten exactly ten pass."""
    roomy = Leases()
    assert all(await asyncio.gather(*(roomy.take(db, "roomy-key", 5, 600) for _ in range(50))))
    tight = Leases()
    granted = await asyncio.gather(*(tight.take(db, "tight-key", 5, 10) for _ in range(50)))
    assert sum(granted) == 10
