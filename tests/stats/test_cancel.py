"""Cancelling an open visit: who may, what it refuses, and that the visit stops counting everywhere, its
referral is booked again, visit.cancelled goes where the visit went, and the audit log has it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from connectors.models import Delivery
from connectors.outbox import OutboxEvent
from hub.concierge import history
from hub.db import Database
from hub.scope import ADMIN as ADMIN_SCOPE
from hub.stats.cli import rebuild
from tests import builders
from tests.conftest import ADMIN, bearer, error_of
from tests.flow.conftest import World, receipt_body
from tests.stats.test_stats import DAY, rollup_rows, venue_stats, visit_of

Obj = dict[str, Any]
REASON = "Гость ушёл, не дождавшись заказа"
CRM_EVENTS = Path(__file__).parents[2] / "openapi" / "crm-events.json"


async def cancel(world: World, visit_id: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    return await world.client.post(
        f"/v1/visits/{visit_id}/cancel", json={"reason": REASON}, headers=headers or world.till, **extra
    )


async def counted(world: World) -> tuple[int, int, int]:
    body = (await venue_stats(world)).json()
    return body["visits"], body["unique_guests"], body["visits_awaiting_check"]


async def connector(client: httpx.AsyncClient, name: str, owner: Obj, events: list[str]) -> str:
    body = {
        "name": name,
        "kind": "rest",
        "owner": owner,
        "url": "http://127.0.0.1:9/events",
        "auth": {"type": "none"},
        "events": events,
    }
    response = await client.post("/v1/connectors", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    connector_id: str = response.json()["id"]
    return connector_id


async def deliveries_of(db: Database, event_type: str) -> list[tuple[str, Obj]]:
    """(connector id, envelope) of each delivery of this event type."""
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(Delivery.connector_id, OutboxEvent.envelope)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .where(OutboxEvent.type == event_type)
        )
        return [(str(connector_id), envelope) for connector_id, envelope in rows]


async def test_a_cancelled_visit_stops_counting_and_a_rebuild_agrees(world: World, db: Database) -> None:
    """Of two guests' open visits, the cancelled one leaves visits, unique guests and awaiting-check;
    the rollups equal a rebuild, in venue, program and summary figures alike."""
    other = await builders.member(world.client, world.program, tier_code="gold", name="Ольга Смирнова")
    await visit_of(world, world.member)
    doomed = await visit_of(world, other)
    assert await counted(world) == (2, 2, 2)
    response = await cancel(world, doomed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["visit_id"], body["status"], body["reason"], body["referral_id"]) == (
        doomed,
        "cancelled",
        REASON,
        None,
    )
    assert await counted(world) == (1, 1, 1)
    assert "gold" not in [t["tier_code"] for t in (await venue_stats(world)).json()["by_tier"]]
    program = await world.client.get(
        f"/v1/programs/{world.program['id']}/stats", params={"from": DAY, "to": DAY}, headers=ADMIN
    )
    assert (program.json()["visits"], program.json()["unique_guests"]) == (1, 1)
    kept = await rollup_rows(db)
    assert await rebuild(db, None) == 1
    assert await rollup_rows(db) == kept


async def test_the_venue_its_partner_and_an_admin_may_cancel_others_may_not(world: World) -> None:
    """The venue's key, its partner's and an admin cancel; another venue's terminal, venue and partner
    keys get 404, a concierge 403, and the visit keeps counting after each refusal."""
    client = world.client
    partner_2 = await builders.partner(client)
    venue_2 = await builders.venue(client, partner_2)
    refused = {
        "terminal": bearer((await builders.terminal(client, venue_2))["api_key"]),
        "venue": bearer(await builders.key(client, "venue", venue_id=venue_2["id"])),
        "partner": bearer(await builders.key(client, "partner", partner_id=partner_2["id"])),
    }
    allowed = {
        "venue": bearer(await builders.key(client, "venue", venue_id=world.venue["id"])),
        "partner": bearer(await builders.key(client, "partner", partner_id=world.partner["id"])),
        "admin": ADMIN,
    }
    concierge = bearer(await builders.key(client, "concierge", program_ids=[world.program["id"]]))
    for role, headers in allowed.items():
        visit_id = await visit_of(world, world.member)
        for other_role, other in refused.items():
            answer = await cancel(world, visit_id, other)
            assert (answer.status_code, error_of(answer)["code"]) == (404, "not_found"), other_role
        denied = await cancel(world, visit_id, concierge)
        assert (denied.status_code, error_of(denied)["code"]) == (403, "forbidden")
        assert (await counted(world))[0] == 1
        assert (await cancel(world, visit_id, headers)).status_code == 200, role
        assert (await counted(world))[0] == 0
    unknown = await cancel(world, str(uuid.UUID(int=7)))
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "not_found")


async def test_a_visit_with_a_receipt_or_already_cancelled_is_409(world: World) -> None:
    """visit_closed for a visit with its receipt and for one cancelled already; a receipt posted to a
    cancelled visit is refused too, and nothing changes."""
    paid = await visit_of(world, world.member)
    closed = await world.client.post(
        f"/v1/visits/{paid}/receipt", json=receipt_body("ЧЕК-409"), headers=world.till
    )
    assert closed.status_code == 201, closed.text
    answer = await cancel(world, paid)
    assert (answer.status_code, error_of(answer)["code"]) == (409, "visit_closed")
    dropped = await visit_of(world, world.member)
    assert (await cancel(world, dropped)).status_code == 200
    again = await cancel(world, dropped)
    assert (again.status_code, error_of(again)["code"]) == (409, "visit_closed")
    late = await world.client.post(
        f"/v1/visits/{dropped}/receipt", json=receipt_body("ЧЕК-поздно"), headers=world.till
    )
    assert (late.status_code, error_of(late)["code"]) == (409, "visit_closed")
    body = (await venue_stats(world)).json()
    assert (body["visits"], body["receipts"], body["visits_awaiting_check"]) == (1, 1, 0)


async def test_a_bad_body_is_422_and_changes_nothing(world: World) -> None:
    """An empty or missing reason is validation_failed and the visit stays open and counted."""
    visit_id = await visit_of(world, world.member)
    for body in ({"reason": ""}, {}):
        answer = await world.client.post(f"/v1/visits/{visit_id}/cancel", json=body, headers=world.till)
        assert (answer.status_code, error_of(answer)["code"]) == (422, "validation_failed"), body
    assert await counted(world) == (1, 1, 1)


async def test_visit_cancelled_goes_to_the_connectors_that_got_the_visit(world: World, db: Database) -> None:
    """A connector taking visit.verified (or visit.cancelled) gets visit.cancelled with the visit id and
    the reason; one taking only receipts does not; the event is in the CRM contract."""
    client = world.client
    at_venue = {"venue_id": world.venue["id"]}
    got_visit = await connector(client, "CRM визитов", at_venue, ["visit.verified"])
    asked = await connector(client, "CRM отмен", {"program_id": world.program["id"]}, ["visit.cancelled"])
    await connector(client, "CRM чеков", at_venue, ["receipt.closed"])
    visit_id = await visit_of(world, world.member)
    assert (await cancel(world, visit_id)).status_code == 200
    sent = await deliveries_of(db, "visit.cancelled")
    assert sorted(c for c, _ in sent) == sorted([got_visit, asked])
    data = sent[0][1]["data"]
    assert (data["visit_id"], data["reason"], data["member"]["id"]) == (visit_id, REASON, world.member["id"])
    assert "phone" not in str(sent)
    assert "visit.cancelled" in json.loads(CRM_EVENTS.read_text())["webhooks"]


async def test_the_referral_a_cancelled_visit_fulfilled_is_booked_again(world: World) -> None:
    """The visit that fulfilled a referral is cancelled: the referral is booked again, and the next
    verified visit in its window fulfils it."""
    booking = {
        "program_id": world.program["id"],
        "member_id": world.member["id"],
        "venue_id": world.venue["id"],
        "expected_at": "2026-11-20T13:00:00Z",
    }
    referral = await world.client.post("/v1/referrals", json=booking, headers=ADMIN)
    assert referral.status_code == 201, referral.text
    url = f"/v1/referrals/{referral.json()['id']}"
    first = await visit_of(world, world.member)
    assert (await world.client.get(url, headers=ADMIN)).json()["status"] == "visited"
    answer = await cancel(world, first)
    assert answer.json()["referral_id"] == referral.json()["id"]
    read = (await world.client.get(url, headers=ADMIN)).json()
    assert (read["status"], read["visit_id"]) == ("booked", None)
    second = await visit_of(world, world.member)
    read = (await world.client.get(url, headers=ADMIN)).json()
    assert (read["status"], read["visit_id"]) == ("visited", second)


async def test_a_cancellation_is_audited_and_idempotent(world: World, db: Database) -> None:
    """The same Idempotency-Key replays the first answer without a second event; the audit log names
    the visit and the venue key that cancelled it."""
    venue_key = bearer(await builders.key(world.client, "venue", venue_id=world.venue["id"]))
    await connector(world.client, "CRM", {"venue_id": world.venue["id"]}, ["visit.verified"])
    visit_id = await visit_of(world, world.member)
    headers = {**venue_key, "Idempotency-Key": "cancel-Visit-1"}
    first = await cancel(world, visit_id, headers)
    replay = await cancel(world, visit_id, headers)
    assert (first.status_code, replay.status_code) == (200, 200), replay.text
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()
    assert len(await deliveries_of(db, "visit.cancelled")) == 1
    entries = (await world.client.get("/v1/audit", headers=ADMIN)).json()["items"]
    (entry,) = [e for e in entries if e["action"] == "visit.cancel"]
    assert (entry["target_type"], entry["target_id"], entry["actor_role"]) == ("visit", visit_id, "venue")
    assert entry["details"]["venue_id"] == world.venue["id"]


async def test_a_guests_totals_leave_out_a_cancelled_visit(world: World, db: Database) -> None:
    """The concierge's guest profile counts the guest's visits without the cancelled one; the visits list
    still shows it, as cancelled."""
    kept = await visit_of(world, world.member)
    dropped = await visit_of(world, world.member)
    assert (await cancel(world, dropped)).status_code == 200
    async with db.sessionmaker() as session:
        profile = await history.member_profile(session, ADMIN_SCOPE, uuid.UUID(world.member["id"]))
    assert profile.totals.visits == 1
    assert [(v.id, v.visits) for v in profile.favourite_venues] == [(uuid.UUID(world.venue["id"]), 1)]
    listed = await world.client.get(f"/v1/members/{world.member['id']}/visits", headers=ADMIN)
    assert {v["id"]: v["status"] for v in listed.json()["items"]} == {kept: "open", dropped: "cancelled"}
