"""enqueue(): one event row in the caller's transaction, so the fact and its event commit together."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outbox.models import OutboxEvent
from hub.crypto import Keyring
from hub.ids import new_id


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
        )
    )
    return event_id
