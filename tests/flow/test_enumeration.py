"""A terminal key cannot tell which codes the hub knows: spent budgets answer every code alike."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from hub.clock import FrozenClock
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import World


async def _timed(world: World, code: str, till: dict[str, str]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await world.scan(code, headers=till)
    return response, time.perf_counter() - started


def _shape(response: httpx.Response) -> tuple[int, str | None, Any]:
    return response.status_code, response.headers.get("retry-after"), response.json()


async def test_known_and_unknown_codes_are_alike_once_the_terminal_window_is_spent(world: World) -> None:
    """After the terminal's 30 SMS in 10 minutes, 100 known and 100 unknown codes get the same 429, body
    and Retry-After, in the same time (medians within noise)."""
    members = [world.member]
    members += [await builders.member(world.client, world.program, name=f"Гость Номер{n}") for n in range(9)]
    for member in members:
        for _ in range(3):
            sent = await world.scan(member["card_number"])
            assert sent.status_code == 201, sent.text
    known: list[tuple[httpx.Response, float]] = []
    unknown: list[tuple[httpx.Response, float]] = []
    for n in range(100):
        known.append(await _timed(world, members[n % len(members)]["card_number"], world.till))
        unknown.append(await _timed(world, f"77999{n:08d}", world.till))
    shapes = {repr(_shape(r)) for r, _ in known + unknown}
    assert len(shapes) == 1, shapes
    assert error_of(known[0][0])["code"] == "rate_limited"
    median_known = statistics.median(t for _, t in known)
    median_unknown = statistics.median(t for _, t in unknown)
    assert abs(median_known - median_unknown) <= 0.5 * max(median_known, median_unknown) + 0.002, (
        median_known,
        median_unknown,
    )


async def test_unrecognised_scans_are_throttled_per_terminal(world: World, clock: FrozenClock) -> None:
    """20 unknown codes in 10 minutes answer 422; the 21st is 429 with Retry-After, and so is a known card
    at that terminal until the window ends; another terminal is not affected."""
    for n in range(20):
        miss = await world.scan(f"77888{n:08d}")
        assert (miss.status_code, error_of(miss)["code"]) == (422, "card_not_recognized")
    over = await world.scan("7788800000099")
    assert over.status_code == 429
    assert error_of(over)["details"]["limit"] == "unrecognized_scans"
    assert 0 < int(over.headers["retry-after"]) <= 600
    known = await world.scan()
    assert _shape(known)[:1] == (429,)
    assert error_of(known)["details"]["limit"] == "unrecognized_scans"
    other = await builders.terminal(world.client, world.venue, name="Бар Второй")
    assert (await world.scan(headers=bearer(other["api_key"]))).status_code == 201
    clock.advance(minutes=10)
    assert (await world.scan()).status_code == 201
    assert (await world.scan("7788800000100")).status_code == 422


async def test_blocked_cards_count_as_misses(world: World) -> None:
    """A blocked card sends nothing, so it counts against the same budget as an unknown code."""
    blocked = await builders.member(world.client, world.program, name="Блок Иванов")
    response = await world.client.patch(
        f"/v1/members/{blocked['id']}", json={"status": "blocked"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    for _ in range(20):
        assert (await world.scan(blocked["card_number"])).status_code == 403
    assert (await world.scan(blocked["card_number"])).status_code == 429


async def test_the_scan_names_nobody_before_the_pin(world: World) -> None:
    """The scan answer carries no member (name, tier); the PIN's answer shows the masked name."""
    guest = await builders.member(world.client, world.program, name="Анна Петрова", tier_code="gold")
    scan = await world.scan(guest["card_number"])
    assert scan.status_code == 201, scan.text
    assert scan.json().get("member") is None
    assert "Анна" not in scan.text
    assert "gold" not in scan.text
    verified = await world.client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": world.last_pin()}, headers=world.till
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["member"] == {"tier_code": "gold", "name_masked": "Анна П."}
