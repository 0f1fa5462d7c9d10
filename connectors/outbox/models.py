"""Outbox events: the envelope the CRMs receive, written with the fact it reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_program_occurred", "program_id", "occurred_at"),
        Index("ix_outbox_events_venue_occurred", "venue_id", "occurred_at"),
    )

    type: Mapped[str] = mapped_column(String(40))
    program_id: Mapped[uuid.UUID]
    venue_id: Mapped[uuid.UUID]
    member_id: Mapped[uuid.UUID | None]  # the guest it concerns: deliveries keep per-member order
    occurred_at: Mapped[dt.datetime]
    # the envelope without personal data; the phone travels encrypted beside it (bound to the event id)
    envelope: Mapped[dict[str, Any]]
    personal_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # the X-Request-Id of the request that wrote it; sent on to the CRMs with every attempt
    request_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
