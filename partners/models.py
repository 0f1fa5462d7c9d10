"""The registry's tables: programs and tiers, partners, venues, terminals, offers, members."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Partner(IdMixin, TimestampMixin, Base):
    __tablename__ = "partners"
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Program(IdMixin, TimestampMixin, Base):
    __tablename__ = "programs"
    __table_args__ = (
        CheckConstraint("kind IN ('coalition', 'venue')", name="kind"),
        CheckConstraint(
            "venue_personal_data_max IN ('none', 'masked', 'full')", name="venue_personal_data_max"
        ),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    card_rules: Mapped[list[Any]]
    pin_policy: Mapped[dict[str, Any]]
    sms_template: Mapped[str] = mapped_column(String(400))
    fees: Mapped[dict[str, Any]]
    signing_public_keys: Mapped[list[Any]]
    # the most personal data a venue's connector receives of this program's guests (the owner's choice)
    venue_personal_data_max: Mapped[str] = mapped_column(String(8), default="masked", server_default="masked")

    tiers: Mapped[list[Tier]] = relationship(
        lazy="raise", order_by="Tier.position", cascade="all, delete-orphan", back_populates="program"
    )


class Tier(IdMixin, Base):
    __tablename__ = "program_tiers"
    __table_args__ = (UniqueConstraint("program_id", "code"),)

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    discount_bp: Mapped[int]
    bonus_bp: Mapped[int | None]
    max_bonus_payment_bp: Mapped[int | None]
    welcome_bonus_minor: Mapped[int | None]
    promote_when: Mapped[dict[str, Any] | None]

    program: Mapped[Program] = relationship(lazy="raise", back_populates="tiers")


class Venue(IdMixin, TimestampMixin, Base):
    __tablename__ = "venues"
    __table_args__ = (UniqueConstraint("partner_id", "name"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    district: Mapped[str] = mapped_column(String(120))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    timezone: Mapped[str] = mapped_column(String(64))


class Terminal(IdMixin, TimestampMixin, Base):
    __tablename__ = "terminals"
    __table_args__ = (UniqueConstraint("venue_id", "name"),)

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[dt.datetime | None]


class Offer(IdMixin, TimestampMixin, Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("partner_id IS NULL OR venue_id IS NULL", name="one_target"),
        Index("ix_offers_program_target", "program_id", "venue_id", "partner_id"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"))
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues.id"))
    tier_code: Mapped[str | None] = mapped_column(String(40))
    discount_bp: Mapped[int]
    max_discount_minor: Mapped[int | None]
    excluded_categories: Mapped[list[Any]]
    perks: Mapped[list[Any]]
    coalition_funded_bp: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class Member(IdMixin, TimestampMixin, Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("program_id", "card_number"),
        Index("ix_members_program_phone", "program_id", "phone_index"),
        CheckConstraint("status IN ('active', 'blocked')", name="status"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programs.id"))
    card_number: Mapped[str] = mapped_column(String(64))
    phone_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    phone_index: Mapped[str] = mapped_column(String(40))
    phone_masked: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    tier_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="active")
    bonus_balance_minor: Mapped[int] = mapped_column(default=0)
    # set by `coalition-hub members erase`: phone and name gone, visits and receipts kept
    erased_at: Mapped[dt.datetime | None]
