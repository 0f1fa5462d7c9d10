"""PIN challenges and the SMS sends they caused (the send log is what rate limits count)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class PinChallenge(IdMixin, Base):
    __tablename__ = "pin_challenges"
    __table_args__ = (Index("ix_pin_challenges_created_at", "created_at"),)  # retention purge

    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scans.id"), unique=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    counter: Mapped[int] = mapped_column(default=0)
    digits: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | verified | locked
    expires_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    resend_available_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SmsSend(IdMixin, Base):
    __tablename__ = "sms_sends"
    __table_args__ = (
        Index("ix_sms_sends_member_created", "member_id", "created_at"),
        Index("ix_sms_sends_terminal_created", "terminal_id", "created_at"),
        Index("ix_sms_sends_created_at", "created_at"),  # retention purge, the hub's budget
        Index("ix_sms_sends_venue_created", "venue_id", "created_at"),
        Index("ix_sms_sends_program_created", "program_id", "created_at"),
    )

    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pin_challenges.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"))
    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    # the venue's and the program's SMS budgets count these (null on sends older than the budgets)
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues.id"))
    program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"))
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending | sent | failed
    message_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]
