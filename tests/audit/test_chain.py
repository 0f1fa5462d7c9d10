"""The audit log: entries for the audited actions, a hash chain that holds under concurrent appends and
names the first changed or deleted entry, the admin-only route and `coalition-hub audit verify`."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from hub import audit
from hub.audit import AuditEntry
from hub.clock import FrozenClock
from hub.db import Database
from hub.scope import ADMIN as ADMIN_SCOPE
from tests import builders
from tests.conftest import ADMIN, error_of, wipe
from tests.flow.conftest import World, receipt_body, world

__all__ = ["world"]  # the guest-flow world fixture, used here too

CLI = Path(sys.executable).parent / "coalition-hub"


async def entries(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def append(db: Database, count: int, clock: FrozenClock) -> None:
    for n in range(count):
        async with db.transaction() as session:
            await audit.record(
                session, ADMIN_SCOPE, "test.append", "thing", str(n), at=clock.now(), details={"n": n}
            )


async def tamper(db: Database, statement: Any) -> None:
    """Change the log behind the hub's back (on PostgreSQL as a superuser past the append-only trigger)."""
    async with db.transaction() as session:
        if not db.is_sqlite:
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(statement)


async def test_key_creation_and_revocation_are_audited(client: httpx.AsyncClient) -> None:
    """Creating and revoking a key each append an entry naming the admin, the key and its role."""
    created = await client.post("/v1/keys", json={"role": "admin", "name": "ops"}, headers=ADMIN)
    assert created.status_code == 201
    revoked = await client.delete(f"/v1/keys/{created.json()['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    found = [e for e in await entries(client) if e["target_type"] == "api_key"]
    assert [e["action"] for e in found] == ["key.create", "key.revoke"]
    assert {e["target_id"] for e in found} == {created.json()["id"]}
    assert all(e["actor_role"] == "admin" and e["details"]["role"] == "admin" for e in found)
    assert created.json()["api_key"] not in str(found)


async def test_pin_lock_out_and_refund_are_audited(world: World, client: httpx.AsyncClient) -> None:
    """Wrong PINs give pin.invalid entries, then one pin.lock_out; a refund gives receipt.refund."""
    scan = await world.scan()
    pin = world.last_pin()
    wrong = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    for _ in range(5):
        await client.post(f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": wrong}, headers=world.till)
    visit_id = await world.verified_visit()
    receipt = await client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
    refund = await client.post(
        f"/v1/receipts/{receipt.json()['receipt_id']}/refund", json={"reason": "returned"}, headers=world.till
    )
    assert refund.status_code == 201, refund.text
    found = await entries(client)
    pins = [e["action"] for e in found if e["target_id"] == scan.json()["scan_id"]]
    assert pins == ["pin.invalid"] * 4 + ["pin.lock_out"]
    assert [e["action"] for e in found if e["action"] == "pin.verified"] == ["pin.verified"]
    (refunded,) = [e for e in found if e["action"] == "receipt.refund"]
    assert refunded["target_id"] == receipt.json()["receipt_id"]
    assert refunded["actor_role"] == "terminal"
    assert refunded["details"]["refund_id"] == refund.json()["refund_id"]
    assert pin not in str(found)
    assert world.gateway.recent()[0].to not in str(found)


async def test_registry_and_connector_changes_are_audited(client: httpx.AsyncClient) -> None:
    """Registry creates and updates are audited with the fields given, never their values."""
    partner = await builders.partner(client)
    renamed = await client.patch(f"/v1/partners/{partner['id']}", json={"name": "Renamed"}, headers=ADMIN)
    assert renamed.status_code == 200
    found = [e for e in await entries(client) if e["target_id"] == partner["id"]]
    assert [(e["action"], e["details"]["fields"]) for e in found] == [
        ("partner.create", ["name"]),
        ("partner.update", ["name"]),
    ]


async def test_chain_holds_under_concurrent_appends(db: Database, clock: FrozenClock) -> None:
    """Many transactions appending at once form one unbroken chain (the head row serialises them)."""

    async def one(n: int) -> None:
        async with db.transaction() as session:
            await audit.record(session, None, "test.concurrent", "thing", str(n), at=clock.now())

    await asyncio.gather(*(one(n) for n in range(60)))
    result = await audit.verify(db)
    assert result.is_intact, result.problem
    assert (result.checked, result.last_seq) == (60, 60)


async def test_changed_details_are_found_at_their_position(db: Database, clock: FrozenClock) -> None:
    """Editing one entry's details breaks the chain exactly at that entry."""
    await append(db, 6, clock)
    assert (await audit.verify(db)).is_intact
    await tamper(db, update(AuditEntry).where(AuditEntry.seq == 4).values(details={"n": 99}))
    problem = (await audit.verify(db)).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "changed")


@pytest.mark.parametrize(("deleted", "found_at"), [(3, 3), (1, 1), (6, 6)])
async def test_deleted_entries_are_found_at_their_position(
    db: Database, clock: FrozenClock, deleted: int, found_at: int
) -> None:
    """Deleting an entry (first, middle or last) is reported at the missing position."""
    await append(db, 6, clock)
    await tamper(db, delete(AuditEntry).where(AuditEntry.seq == deleted))
    problem = (await audit.verify(db)).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (found_at, "deleted")


async def test_postgres_refuses_updates_and_deletes(postgres_url: str, clock: FrozenClock) -> None:
    """On PostgreSQL a trigger keeps the log append-only for everyone but a superuser bypassing it
    (on SQLite the hash chain alone detects a change: see the tests above)."""
    db = Database(postgres_url)
    try:
        await append(db, 1, clock)
        for statement in (update(AuditEntry).values(details={}), delete(AuditEntry)):
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.transaction() as session:
                    await session.execute(statement)
    finally:
        await wipe(db)
        await db.dispose()


async def test_cli_verify_exits_1_naming_the_entry(db: Database, clock: FrozenClock) -> None:
    """`coalition-hub audit verify` says intact (exit 0), or names the first broken entry (exit 1)."""
    await append(db, 4, clock)
    env = {**os.environ, "HUB_DATABASE_URL": db.url}

    async def run() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(CLI),
            "audit",
            "verify",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()

    code, out = await run()
    assert (code, "intact" in out) == (0, True)
    await tamper(db, update(AuditEntry).where(AuditEntry.seq == 2).values(action="test.other"))
    code, out = await run()
    assert code == 1
    assert "entry 2" in out


async def test_audit_route_pages_and_bounds_its_range(
    client: httpx.AsyncClient, db: Database, clock: FrozenClock
) -> None:
    """Entries come in chain order, a page at a time; the range must be ordered, zoned and at most 93 days."""
    await append(db, 5, clock)
    first = await client.get("/v1/audit", params={"limit": "3"}, headers=ADMIN)
    assert [e["seq"] for e in first.json()["items"]] == [1, 2, 3]
    rest = await client.get(
        "/v1/audit", params={"limit": "3", "cursor": first.json()["next_cursor"]}, headers=ADMIN
    )
    assert [e["seq"] for e in rest.json()["items"]] == [4, 5]
    assert rest.json()["next_cursor"] is None
    now = clock.now()
    too_long = {"from": (now - dt.timedelta(days=94)).isoformat(), "to": now.isoformat()}
    backwards = {"from": now.isoformat(), "to": (now - dt.timedelta(hours=1)).isoformat()}
    earlier = {
        "from": (now - dt.timedelta(days=3)).isoformat(),
        "to": (now - dt.timedelta(days=2)).isoformat(),
    }
    for params in (too_long, backwards, {"cursor": "x1"}):
        response = await client.get("/v1/audit", params=params, headers=ADMIN)
        assert (response.status_code, error_of(response)["code"]) == (422, "validation_failed")
    assert (await client.get("/v1/audit", params=earlier, headers=ADMIN)).json()["items"] == []


async def test_exports_are_audited(client: httpx.AsyncClient) -> None:
    """A CSV or XLSX download is audited (who, which export, format, rows) before its bytes go out."""
    csv = await client.get("/v1/deliveries", params={"format": "csv"}, headers=ADMIN)
    assert csv.status_code == 200
    plain = await client.get("/v1/deliveries", headers=ADMIN)
    assert plain.status_code == 200
    (found,) = [e for e in await entries(client) if e["action"] == "export.download"]
    assert (found["target_id"], found["actor_role"]) == ("deliveries", "admin")
    assert found["details"] == {"format": "csv", "rows": 0, "route": "/v1/deliveries"}
