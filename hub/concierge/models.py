"""Referrals: a concierge's booking of a member into a venue at a time, and the visit that fulfilled it."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class Referral(IdMixin, Base):
    """Stored status is booked | visited | cancelled; a booked one past window_closes_at reads as expired."""

    __tablename__ = "referrals"
    __table_args__ = (
        # fulfilment looks up a member's booked referrals at one venue on every verified visit
        Index("ix_referrals_member_venue_status", "member_id", "venue_id", "status"),
        Index("ix_referrals_program_expected", "program_id", "expected_at"),
        Index("ix_referrals_venue_expected", "venue_id", "expected_at"),
        CheckConstraint("status IN ('booked', 'visited', 'cancelled')", name="status"),
        CheckConstraint("window_opens_at <= window_closes_at", name="window"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    expected_at: Mapped[dt.datetime]
    # the window is stored, not derived on read, so a per-referral window needs no schema change
    window_opens_at: Mapped[dt.datetime]
    window_closes_at: Mapped[dt.datetime]
    party_size: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="booked")
    # one visit fulfils at most one referral
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"), unique=True)
    visited_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    created_by_key_id: Mapped[uuid.UUID | None]  # the operator's key (None: the bootstrap admin)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
