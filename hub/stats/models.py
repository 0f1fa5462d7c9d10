"""Statistics tables: daily rollups per venue, program, tier and venue-local date, and RFM scores.

`stats_daily` holds the additive numbers (sums and counts add across days); distinct guests do not add,
so `stats_daily_guests` keeps one row per guest per (venue, program, day) and ranges count distinct
members over it. A visit is counted (`visits`, and its guest row) in the transaction that verifies it, on
the venue-local day of its verification; its receipt and refunds are added to that same day's row, so a
day's `visits - checked` are its visits still awaiting their check. Cancelling an open visit takes it off.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base
from hub.flow.models import Receipt

NO_TIER = ""  # the key's tier when the visit had none (primary-key columns cannot be NULL)


class StatsDaily(Base):
    __tablename__ = "stats_daily"
    # the primary key leads with (venue, day): one venue's range is one index range scan
    __table_args__ = (Index("ix_stats_daily_program_date", "program_id", "local_date"),)

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), primary_key=True)
    local_date: Mapped[dt.date] = mapped_column(primary_key=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)  # verified visits, not cancelled
    checked: Mapped[int] = mapped_column(BigInteger, default=0)  # of those, visits with a receipt
    receipts: Mapped[int] = mapped_column(BigInteger, default=0)  # receipts not refunded in full
    check_sum_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # receipts' total_minor at close
    discount_sum_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    items: Mapped[int] = mapped_column(BigInteger, default=0)  # item_count of the receipts counted
    refunds_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsDailyGuest(Base):
    __tablename__ = "stats_daily_guests"
    __table_args__ = (Index("ix_stats_daily_guests_program_date", "program_id", "local_date"),)

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), primary_key=True)
    local_date: Mapped[dt.date] = mapped_column(primary_key=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)


class RfmRun(Base):
    """The last RFM computation of a program: GET serves it with its computed_at."""

    __tablename__ = "rfm_runs"

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    computed_at: Mapped[dt.datetime]
    as_of: Mapped[dt.date]
    window_days: Mapped[int]
    members: Mapped[int]


class RfmScore(Base):
    __tablename__ = "rfm_scores"
    __table_args__ = (Index("ix_rfm_scores_program_segment", "program_id", "segment"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tier_code: Mapped[str | None] = mapped_column(String(40))
    recency_days: Mapped[int]
    frequency: Mapped[int]
    monetary_minor: Mapped[int] = mapped_column(BigInteger)
    r_score: Mapped[int]
    f_score: Mapped[int]
    m_score: Mapped[int]
    segment: Mapped[str] = mapped_column(String(40))


# a program's receipts by closing time (RFM read them so before it scored visits); kept, no schema change
Index("ix_receipts_program_closed", Receipt.program_id, Receipt.closed_at)
