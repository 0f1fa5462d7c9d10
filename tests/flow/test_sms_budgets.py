"""SMS budgets per venue, per program and for the whole hub; a cap on terminals per venue."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from litestar import Litestar
from prometheus_client import REGISTRY
from sqlalchemy import select

from hub.app import flow_limits
from hub.audit import AuditEntry
from hub.clock import FrozenClock
from hub.config import load_settings
from hub.db import Database
from hub.flow.service import FlowLimits
from pin.service import SendBudgets
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import World

BUDGETS = ["venue_hour", "venue_day", "program_hour", "program_day", "hub_hour", "hub_day"]


def _only(app: Litestar, budget: str, limit: int) -> None:
    """This process's flow with one budget set and the others off."""
    scope, period = budget.split("_")
    off = {f.name: 0 for f in dataclasses.fields(SendBudgets)}
    app.state.flow.limits = FlowLimits(sms_budgets=SendBudgets(**{**off, f"{scope}_per_{period}": limit}))


def _refusals(budget: str) -> float:
    return REGISTRY.get_sample_value("hub_sms_budget_refusals_total", {"budget": budget}) or 0.0


async def _spend(world: World, count: int, name: str = "Гость") -> list[dict[str, str]]:
    """Scans of `count` new members at the world's terminal, one SMS each."""
    members = [
        await builders.member(world.client, world.program, name=f"{name} Номер{n}") for n in range(count)
    ]
    for member in members:
        sent = await world.scan(member["card_number"])
        assert sent.status_code == 201, sent.text
    return members


async def _budget_entries(db: Database) -> list[AuditEntry]:
    async with db.sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "sms.budget_spent")))


@pytest.mark.parametrize("budget", BUDGETS)
async def test_a_spent_budget_refuses_the_next_sms(
    world: World, app: Litestar, clock: FrozenClock, db: Database, budget: str
) -> None:
    """Three SMS pass a budget of three; the fourth scan and a resend are 429 naming the budget, with
    Retry-After; the refusals are counted on /metrics and audited once; the window's end frees it."""
    _only(app, budget, 3)
    before = _refusals(budget)
    members = await _spend(world, 3)
    extra = await builders.member(world.client, world.program, name="Лишний Гость")
    refused = await world.scan(extra["card_number"])
    assert refused.status_code == 429, refused.text
    assert error_of(refused)["details"]["limit"] == budget
    window = 3600 if budget.endswith("hour") else 86400
    assert 0 < int(refused.headers["retry-after"]) <= window + 1
    clock.advance(seconds=31)
    again = await world.scan(members[0]["card_number"])  # the card's second SMS: refused as well
    assert error_of(again)["details"]["limit"] == budget
    assert _refusals(budget) == before + 2
    entries = await _budget_entries(db)
    assert len(entries) == 1
    assert entries[0].details["budget"] == budget
    assert entries[0].target_type == budget.split("_")[0]
    clock.advance(seconds=window)
    assert (await world.scan(extra["card_number"])).status_code == 201


async def test_a_resend_counts_against_the_budgets(world: World, app: Litestar, clock: FrozenClock) -> None:
    """A resend is one more SMS: once the venue's hour is spent, a resend is 429 naming the budget."""
    _only(app, "venue_hour", 2)
    first = await world.scan()
    assert first.status_code == 201, first.text
    await _spend(world, 1)
    clock.advance(seconds=31)
    resent = await world.client.post(f"/v1/scans/{first.json()['scan_id']}/pin/resend", headers=world.till)
    assert resent.status_code == 429, resent.text
    assert error_of(resent)["details"]["limit"] == "venue_hour"


async def test_budgets_are_per_venue_and_per_program(world: World, app: Litestar) -> None:
    """A venue's spent budget leaves another venue sending; a program's leaves another program sending."""
    _only(app, "venue_hour", 2)
    await _spend(world, 2)
    other_venue = await builders.venue(world.client, world.partner, name="Другое Место")
    till = bearer((await builders.terminal(world.client, other_venue))["api_key"])
    guest = await builders.member(world.client, world.program, name="Ольга Гостья")
    assert (await world.scan(guest["card_number"])).status_code == 429
    assert (await world.scan(guest["card_number"], headers=till)).status_code == 201

    _only(app, "program_hour", 3)  # the program has sent 3 now
    second = await builders.program(world.client, card_rules=[{"type": "prefix", "value": "55"}])
    await builders.offer(world.client, second, at_partner=world.partner)
    stranger = await builders.member(world.client, second, card_number="5500000000001", name="Чужой Гость")
    assert error_of(await world.scan())["details"]["limit"] == "program_hour"
    assert (await world.scan(stranger["card_number"])).status_code == 201


async def test_a_spent_venue_budget_answers_before_recognition(world: World, app: Litestar) -> None:
    """Once the venue's budget is spent, an unknown code gets the same 429 as a known card."""
    _only(app, "venue_day", 1)
    await _spend(world, 1)
    known, unknown = await world.scan(), await world.scan("7700099999999")
    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()


def test_budgets_come_from_the_environment() -> None:
    """Each HUB_SMS_PER_* variable sets its budget; 0 turns it off; the defaults are the README's."""
    settings = load_settings({"HUB_SMS_PER_VENUE_HOUR": "7", "HUB_SMS_PER_DAY": "0"})
    budgets = flow_limits(settings).sms_budgets
    assert (budgets.venue_per_hour, budgets.hub_per_day) == (7, 0)
    assert flow_limits(load_settings({})).sms_budgets == SendBudgets()
    assert load_settings({}).max_terminals_per_venue == 50


async def test_a_venue_has_at_most_fifty_working_terminals(client: httpx.AsyncClient) -> None:
    """A venue key creates 50 terminals; the 51st is 409 quota_exceeded with {quota, limit}; disabling one
    makes room for one more."""
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner, name="Кафе Пушкин")
    created = await client.post(
        "/v1/keys",
        json={"role": "venue", "name": "Управляющий", "scope": {"venue_id": venue["id"]}},
        headers=ADMIN,
    )
    manager = bearer(created.json()["api_key"])
    terminals = []
    for n in range(50):
        made = await client.post(
            f"/v1/venues/{venue['id']}/terminals", json={"name": f"Бар {n}"}, headers=manager
        )
        assert made.status_code == 201, made.text
        terminals.append(made.json())
    over = await client.post(
        f"/v1/venues/{venue['id']}/terminals", json={"name": "Бар лишний"}, headers=manager
    )
    assert over.status_code == 409
    error = error_of(over)
    assert error["code"] == "quota_exceeded"
    assert error["details"] == {"quota": "terminals_per_venue", "limit": 50}
    other = await builders.venue(client, partner)
    assert (await builders.terminal(client, other))["api_key"]
    disabled = await client.delete(f"/v1/terminals/{terminals[0]['id']}", headers=manager)
    assert disabled.status_code in (200, 204), disabled.text
    again = await client.post(
        f"/v1/venues/{venue['id']}/terminals", json={"name": "Бар лишний"}, headers=manager
    )
    assert again.status_code == 201, again.text
