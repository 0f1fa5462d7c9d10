"""Closed settlement months: what closing froze, served as it was from then on."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base


class SettlementClose(Base):
    """A closed month (YYYY-MM) and its statement's lines as they stood when it was closed."""

    __tablename__ = "settlement_closes"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[dt.datetime]
    closed_by_role: Mapped[str] = mapped_column(String(16))
    closed_by_key_id: Mapped[uuid.UUID | None]
    lines: Mapped[list[Any]]  # SettlementLine as JSON, every partner's: a reader's scope filters them
