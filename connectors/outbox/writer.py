"""enqueue(): one event row in the caller's transaction, so the fact and its event commit together."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.models import Connector, Delivery
from connectors.outbox.models import OutboxEvent
from hub.crypto import Keyring
from hub.ids import new_id
from hub.logs import current_request_id
from routing.fanout import Route, route


@dataclass(frozen=True)
class EventContext:
    program_id: uuid.UUID
    program_name: str
    venue_id: uuid.UUID
    venue_name: str
    partner_id: uuid.UUID


def personal_aad(event_id: uuid.UUID) -> str:
    return f"outbox.personal:{event_id}"


async def enqueue(
    session: AsyncSession,
    *,
    event_type: str,
    context: EventContext,
    occurred_at: dt.datetime,
    data: dict[str, Any],
    personal: dict[str, Any] | None = None,
    keyring: Keyring | None = None,
    member_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Write the event; `personal` (the phone) is stored encrypted and added per connector at delivery."""
    event_id = new_id()
    envelope = {
        "id": str(event_id),
        "type": event_type,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "program": {"id": str(context.program_id), "name": context.program_name},
        "venue": {
            "id": str(context.venue_id),
            "name": context.venue_name,
            "partner_id": str(context.partner_id),
        },
        "data": data,
    }
    ciphertext = None
    if personal:
        if keyring is None:
            raise ValueError("personal data needs a keyring")
        ciphertext = keyring.encrypt_str(json.dumps(personal), personal_aad(event_id))
    session.add(
        OutboxEvent(
            id=event_id,
            type=event_type,
            program_id=context.program_id,
            venue_id=context.venue_id,
            occurred_at=occurred_at,
            envelope=envelope,
            personal_ciphertext=ciphertext,
            member_id=member_id,
            request_id=current_request_id(),
        )
    )
    await session.flush()
    await _fan_out(session, event_id, event_type, context, occurred_at, member_id)
    return event_id


async def _fan_out(
    session: AsyncSession,
    event_id: uuid.UUID,
    event_type: str,
    context: EventContext,
    occurred_at: dt.datetime,
    member_id: uuid.UUID | None,
) -> None:
    """One delivery per routed connector, in the same transaction as the event."""
    rows = await session.execute(
        select(Connector.id, Connector.owner_program_id, Connector.owner_venue_id, Connector.events).where(
            or_(
                Connector.owner_program_id == context.program_id, Connector.owner_venue_id == context.venue_id
            ),
            Connector.status != "disabled",
        )
    )
    routes = [
        Route(connector_id=r[0], owner_program_id=r[1], owner_venue_id=r[2], events=frozenset(r[3]))
        for r in rows
    ]
    member_key = str(member_id) if member_id is not None else str(event_id)
    for connector_id in route(event_type, context.program_id, context.venue_id, routes):
        session.add(
            Delivery(
                event_id=event_id,
                connector_id=connector_id,
                member_key=member_key,
                status="pending",
                attempts=0,
                next_attempt_at=occurred_at,
            )
        )
