"""The program's owner, not the recipient, decides how much of a guest a venue's connector receives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import select

from hub.audit import AuditEntry
from hub.clock import FrozenClock
from hub.db import Database
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.connectors.crm import Crm, running_crm
from tests.connectors.test_dispatch import crm, deliver_all, flow, make_dispatcher
from tests.flow.conftest import World, world

__all__ = ["crm", "world"]


async def _key(client: httpx.AsyncClient, role: str, scope: dict[str, Any]) -> dict[str, str]:
    created = await client.post(
        "/v1/keys", json={"role": role, "name": f"Ключ {role}", "scope": scope}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    return bearer(created.json()["api_key"])


def _connector(crm: Crm, owner: dict[str, str], level: str) -> dict[str, Any]:
    return {
        "name": builders.unique("Своя CRM"),
        "kind": "rest",
        "owner": owner,
        "url": crm.url,
        "auth": {"type": "none"},
        "personal_data": level,
    }


async def _set_cap(
    client: httpx.AsyncClient, program: dict[str, Any], level: str, who: dict[str, str]
) -> None:
    changed = await client.patch(
        f"/v1/programs/{program['id']}", json={"venue_personal_data_max": level}, headers=who
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["venue_personal_data_max"] == level


async def test_a_venue_key_cannot_give_itself_the_full_phone(world: World, crm: Crm) -> None:
    """By default a program lets venues receive masked phones: a venue key asking for "full" (on create or
    update) is 403 and nothing changes; once the program's concierge allows "full", it may."""
    client = world.client
    venue_key = await _key(client, "venue", {"venue_id": world.venue["id"]})
    assert world.program["venue_personal_data_max"] == "masked"
    owner = {"venue_id": world.venue["id"]}
    refused = await client.post("/v1/connectors", json=_connector(crm, owner, "full"), headers=venue_key)
    assert refused.status_code == 403, refused.text
    assert error_of(refused)["details"]["allowed"] == "masked"
    assert "venue_personal_data_max" in error_of(refused)["message"]
    listed = await client.get("/v1/connectors", headers=venue_key)
    assert listed.json()["items"] == []
    made = await client.post("/v1/connectors", json=_connector(crm, owner, "masked"), headers=venue_key)
    assert made.status_code == 201, made.text
    raised = await client.patch(
        f"/v1/connectors/{made.json()['id']}", json={"personal_data": "full"}, headers=venue_key
    )
    assert raised.status_code == 403
    concierge = await _key(client, "concierge", {"program_ids": [world.program["id"]]})
    await _set_cap(client, world.program, "full", concierge)
    allowed = await client.patch(
        f"/v1/connectors/{made.json()['id']}", json={"personal_data": "full"}, headers=venue_key
    )
    assert allowed.status_code == 200, allowed.text


async def test_the_program_caps_what_a_venue_connector_receives_at_delivery(
    world: World, crm: Crm, db: Database, app: Litestar
) -> None:
    """A venue connector set to "full" gets the full phone only while the program allows it: lowered to
    masked, the next delivery is masked; to none, no phone; the program's own CRM keeps its level."""
    client = world.client
    await _set_cap(client, world.program, "full", ADMIN)
    made = await client.post(
        "/v1/connectors", json=_connector(crm, {"venue_id": world.venue["id"]}, "full"), headers=ADMIN
    )
    assert made.status_code == 201, made.text
    crm.secrets.append(made.json()["signing_secret"])
    async with running_crm() as coalition:
        program_crm = await client.post(
            "/v1/connectors",
            json=_connector(coalition, {"program_id": world.program["id"]}, "full"),
            headers=ADMIN,
        )
        coalition.secrets.append(program_crm.json()["signing_secret"])
        dispatcher = make_dispatcher(db, app)
        phones = []
        for n, level in enumerate(["full", "masked", "none"]):
            await _set_cap(client, world.program, level, ADMIN)
            await flow(world, check_id=f"Чек-{n}")
            await deliver_all(dispatcher, db)
            visit = [e for e in crm.received if e["type"] == "visit.verified"][-1]
            phones.append(visit["data"]["member"].get("phone"))
        assert phones[0].startswith("+7916")
        assert phones[1].startswith("+7 *** ***-")
        assert phones[2] is None
        assert all(
            e["data"]["member"]["phone"].startswith("+7916")
            for e in coalition.received
            if e["type"] == "visit.verified"
        )


async def test_only_the_programs_owner_sets_the_cap(world: World) -> None:
    """The program's concierge sets venue_personal_data_max but nothing else; another program's concierge
    cannot; an admin sets it on create."""
    client = world.client
    concierge = await _key(client, "concierge", {"program_ids": [world.program["id"]]})
    renamed = await client.patch(
        f"/v1/programs/{world.program['id']}", json={"name": "Программа Чужая"}, headers=concierge
    )
    assert renamed.status_code == 403
    other = await builders.program(
        client, card_rules=[{"type": "prefix", "value": "66"}], venue_personal_data_max="none"
    )
    assert other["venue_personal_data_max"] == "none"
    foreign = await client.patch(
        f"/v1/programs/{other['id']}", json={"venue_personal_data_max": "full"}, headers=concierge
    )
    assert foreign.status_code in (403, 404)
    venue_key = await _key(client, "venue", {"venue_id": world.venue["id"]})
    by_venue = await client.patch(
        f"/v1/programs/{world.program['id']}", json={"venue_personal_data_max": "full"}, headers=venue_key
    )
    assert by_venue.status_code == 403
    bad = await client.patch(
        f"/v1/programs/{world.program['id']}", json={"venue_personal_data_max": "всё"}, headers=concierge
    )
    assert bad.status_code == 422


async def test_replays_by_venue_keys_go_back_at_most_93_days(
    world: World, crm: Crm, clock: FrozenClock, db: Database
) -> None:
    """A venue key replays at most 93 days back (422 beyond, nothing changes), audited; an admin further."""
    client = world.client
    venue_key = await _key(client, "venue", {"venue_id": world.venue["id"]})
    made = await client.post(
        "/v1/connectors", json=_connector(crm, {"venue_id": world.venue["id"]}, "masked"), headers=venue_key
    )
    path = f"/v1/connectors/{made.json()['id']}/replay"
    long_ago = (clock.now() - dt.timedelta(days=94)).isoformat()
    refused = await client.post(path, json={"from": long_ago, "status": "all"}, headers=venue_key)
    assert refused.status_code == 422
    assert error_of(refused)["details"] == {"field": "from", "max_days": 93}
    recent = (clock.now() - dt.timedelta(days=92)).isoformat()
    assert (
        await client.post(path, json={"from": recent, "status": "all"}, headers=venue_key)
    ).status_code == 202
    assert (
        await client.post(path, json={"from": long_ago, "status": "all"}, headers=ADMIN)
    ).status_code == 202
    async with db.sessionmaker() as session:
        replays = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "connector.replay"))
        )
    assert [e.actor_role for e in replays] == ["venue", "admin"]
