"""Append to the audit chain, read it by time, verify it.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON encoding of the entry
(sorted keys, no spaces, UTC times to the microsecond). Appends lock the single chain-head row (FOR UPDATE
on PostgreSQL; on SQLite BEGIN IMMEDIATE already serialises writers), so concurrent appends queue and
the chain has no forks. An append belongs to the caller's transaction: the change and its entry commit
together, and it is best made last, so the head stays locked only for the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.models import AuditEntry, AuditHead
from hub.db import Database
from hub.logs import current_request_id
from hub.scope import Scope

GENESIS = "0" * 64
HEAD_ID = 1
CLI_ACTOR = "cli"
VERIFY_BATCH = 1000


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry: AuditEntry) -> bytes:
    """The entry's fields, except its own hash, as canonical JSON."""
    fields = {
        "seq": entry.seq,
        "at": _iso(entry.at),
        "actor_role": entry.actor_role,
        "actor_key_id": str(entry.actor_key_id) if entry.actor_key_id else None,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "request_id": entry.request_id,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.prev_hash.encode() + b"\n" + canonical(entry)).hexdigest()


async def _locked_head(session: AsyncSession) -> AuditHead:
    """The head row, locked; made on the very first append (then every append finds it)."""
    query = (
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = (await session.execute(query)).scalar_one_or_none()
    if head is not None:
        return head
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert if is_sqlite else postgresql_insert
    # two first appends at once: one inserts, the other waits on the key, does nothing, then locks it
    await session.execute(
        insert(AuditHead)
        .values(id=HEAD_ID, seq=0, hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return (await session.execute(query)).scalar_one()


async def record(
    session: AsyncSession,
    actor: Scope | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    *,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
    actor_role: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction; `actor` None is the command line, unless
    `actor_role` names who else it was (e.g. "anonymous": a request without a valid key)."""
    head = await _locked_head(session)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=at.astimezone(dt.UTC),
        actor_role=actor.role if actor else (actor_role or CLI_ACTOR),
        actor_key_id=actor.key_id if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        details=details or {},
        request_id=current_request_id(),
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    await session.flush()
    return entry


async def entries_between(
    session: AsyncSession, start: dt.datetime, end: dt.datetime, *, limit: int, after_seq: int | None
) -> list[AuditEntry]:
    """Entries with start <= at < end in chain order, after the cursor's sequence; up to limit + 1."""
    query = select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end)
    if after_seq is not None:
        query = query.where(AuditEntry.seq > after_seq)
    return list(await session.scalars(query.order_by(AuditEntry.seq).limit(limit + 1)))


@dataclass(frozen=True)
class Problem:
    seq: int  # the position of the first entry found changed or missing
    kind: str  # changed | deleted | relinked
    message: str


@dataclass(frozen=True)
class Verification:
    checked: int
    last_seq: int
    problem: Problem | None

    @property
    def is_intact(self) -> bool:
        return self.problem is None


async def _in_order(database: Database) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        async with database.reader() as session:
            batch = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > after)
                    .order_by(AuditEntry.seq)
                    .limit(VERIFY_BATCH)
                )
            )
        for entry in batch:
            yield entry
        if len(batch) < VERIFY_BATCH:
            return
        after = batch[-1].seq


def check_link(entry: AuditEntry, expected_seq: int, prev_hash: str) -> Problem | None:
    """What is wrong with this entry given the one before it (None: it follows on correctly)."""
    if entry.seq != expected_seq:
        missing = f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}-{entry.seq - 1}"
        return Problem(expected_seq, "deleted", f"entries {missing} are missing before entry {entry.seq}")
    if entry_hash(entry) != entry.hash:
        return Problem(entry.seq, "changed", f"entry {entry.seq} does not match its hash: it was changed")
    if entry.prev_hash != prev_hash:
        return Problem(entry.seq, "relinked", f"entry {entry.seq} does not point at entry {entry.seq - 1}")
    return None


async def verify(database: Database) -> Verification:
    """Recompute the chain from the first entry; report the first changed or deleted one."""
    expected, prev_hash, checked = 1, GENESIS, 0
    async for entry in _in_order(database):
        problem = check_link(entry, expected, prev_hash)
        if problem is not None:
            return Verification(checked, expected - 1, problem)
        expected, prev_hash, checked = entry.seq + 1, entry.hash, checked + 1
    async with database.reader() as session:
        head = await session.get(AuditHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected - 1:
        kind = "deleted" if head_seq > expected - 1 else "relinked"
        return Verification(checked, expected - 1, Problem(expected, kind, _tail_message(expected, head_seq)))
    if head_hash != prev_hash:
        return Verification(
            checked, expected - 1, Problem(expected - 1, "changed", f"entry {expected - 1} is not the head's")
        )
    return Verification(checked, expected - 1, None)


def _tail_message(expected: int, head_seq: int) -> str:
    if head_seq > expected - 1:
        return f"entries {expected}-{head_seq} are missing at the end of the chain"
    return f"the chain's head says {head_seq} entries, the log holds more"


def fields_given(data: msgspec.Struct) -> list[str]:
    """The fields a create or update body set (names only: values may be personal)."""
    return sorted(f for f in data.__struct_fields__ if getattr(data, f) not in (msgspec.UNSET, None))


async def recorded_export(
    request: Request[Any, Any, Any], name: str, export_format: str, rows: int, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """The export's bytes, once its download is in the audit log (its own short transaction, first)."""
    state = request.app.state
    database: Database = state.database
    details = {"format": export_format, "rows": rows, "route": request.scope.get("path_template") or ""}
    details |= {k: str(v) for k, v in request.path_params.items()}
    async with database.transaction() as session:
        await record(
            session, request.user, "export.download", "export", name, at=state.clock.now(), details=details
        )
    async for chunk in chunks:
        yield chunk
