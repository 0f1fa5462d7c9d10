"""Scans, visits, receipts and refunds: the facts of the guest flow."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class Scan(IdMixin, Base):
    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_terminal_created", "terminal_id", "created_at"),)

    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    matched_by: Mapped[str] = mapped_column(String(16))
    symbology: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))  # pin_required | verified | venue_loyalty
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Visit(IdMixin, Base):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_venue_verified", "venue_id", "verified_at"),
        Index("ix_visits_member_verified", "member_id", "verified_at"),
        Index("ix_visits_program_verified", "program_id", "verified_at"),
        CheckConstraint("status IN ('open', 'closed', 'cancelled')", name="status"),
    )

    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scans.id"), unique=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    tier_code: Mapped[str | None] = mapped_column(String(40))
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))
    discount_bp: Mapped[int] = mapped_column(default=0)
    max_discount_minor: Mapped[int | None]
    excluded_categories: Mapped[list[Any]]
    perks: Mapped[list[Any]]
    coalition_funded_bp: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed (receipt) | cancelled
    verified_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class Receipt(IdMixin, Base):
    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("venue_id", "check_id"),
        Index("ix_receipts_venue_closed", "venue_id", "closed_at"),
    )

    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), unique=True)
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    check_id: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    closed_at: Mapped[dt.datetime]
    subtotal_minor: Mapped[int]
    discount_minor: Mapped[int]
    bonus_spent_minor: Mapped[int] = mapped_column(default=0)
    bonus_accrued_minor: Mapped[int] = mapped_column(default=0)
    total_minor: Mapped[int]
    item_count: Mapped[int]  # items by quantity (hub.flow.items), not lines: 3 x a dish is 3
    lines: Mapped[list[Any]]
    guests: Mapped[int | None]
    staff: Mapped[str | None] = mapped_column(String(200))
    refunded_minor: Mapped[int] = mapped_column(default=0)
    refunded_discount_minor: Mapped[int] = mapped_column(default=0)
    refunded_bonus_minor: Mapped[int] = mapped_column(default=0)  # of bonus_spent_minor, given back
    # YYYY-MM when the month of closed_at was already settled (closed) as the receipt came: it settles in the
    # month it was recorded in; None: in the month of closed_at
    settlement_period: Mapped[str | None] = mapped_column(String(7))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Refund(IdMixin, Base):
    __tablename__ = "refunds"

    receipt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("receipts.id"), index=True)
    amount_minor: Mapped[int]
    discount_reversed_minor: Mapped[int]
    bonus_reversed_minor: Mapped[int] = mapped_column(default=0)  # earned bonus taken back
    bonus_returned_minor: Mapped[int] = mapped_column(default=0)  # paid bonus given back
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class BonusEntry(IdMixin, Base):
    """The bonus ledger of venue programs: the member's balance is the sum of these."""

    __tablename__ = "bonus_entries"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    receipt_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("receipts.id"))
    kind: Mapped[str] = mapped_column(String(16))  # accrual | spend | welcome | refund | return
    amount_minor: Mapped[int]  # signed
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(IdMixin, Base):
    """The first answer to a retried write, replayed for the same Idempotency-Key and body."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("principal", "key"),
        Index("ix_idempotency_records_created_at", "created_at"),  # retention purge
    )

    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]  # {content_type}; records kept before encryption also hold the body
    # the answer's body, encrypted and bound to the row: it may show an API key or a signing secret
    response_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
