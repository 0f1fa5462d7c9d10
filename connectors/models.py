"""Connectors, their shared token cache, deliveries and the attempt log, and refs to what CRMs created."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utcnow
from hub.db.base import Base, IdMixin


class Connector(IdMixin, Base):
    __tablename__ = "connectors"
    __table_args__ = (
        CheckConstraint("(owner_program_id IS NULL) <> (owner_venue_id IS NULL)", name="one_owner"),
        CheckConstraint("kind IN ('rest', 'iiko', 'amocrm')", name="kind"),
        CheckConstraint("personal_data IN ('none', 'masked', 'full')", name="personal_data"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    owner_program_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("programs.id"), index=True)
    owner_venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    auth_type: Mapped[str] = mapped_column(String(40))
    auth_public: Mapped[dict[str, Any]]  # token_url, client_id, scope…: shown back
    auth_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)  # client_secret, tokens…: never
    signing_ciphertext: Mapped[bytes] = mapped_column(
        LargeBinary
    )  # JSON list of whsec_ secrets, newest first
    events: Mapped[list[Any]]
    personal_data: Mapped[str] = mapped_column(String(8))
    settings: Mapped[dict[str, Any]]
    # active | paused (circuit breaker or operator) | disabled (410, or deleted) | needs_reconsent
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_reason: Mapped[str | None] = mapped_column(String(500))
    paused_until: Mapped[dt.datetime | None]
    failing_since: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_failure_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConnectorToken(Base):
    """The access token (and a rotating refresh token) of a connector, shared by every process."""

    __tablename__ = "connector_tokens"

    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id"), primary_key=True)
    access_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime | None]
    refreshed_at: Mapped[dt.datetime | None]
    refresh_count: Mapped[int] = mapped_column(default=0)


class Delivery(IdMixin, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "connector_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_connector_member", "connector_id", "member_key", "id"),
        CheckConstraint("status IN ('pending', 'retrying', 'delivered', 'dead')", name="status"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id"))
    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id"))
    # deliveries of one member to one connector go in order; one stuck member blocks only itself
    member_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)  # counted against the budget since the last reset
    # attempts made before an operator's retry or replay reset the budget: the log numbers on from them
    attempt_offset: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[dt.datetime | None]
    needs_reconcile: Mapped[bool] = mapped_column(default=False)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]


class DeliveryAttempt(IdMixin, Base):
    __tablename__ = "delivery_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id"), index=True)
    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id"), index=True)
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[dt.datetime]
    latency_ms: Mapped[int]
    # delivered | transient | rate_limited | unknown | permanent | gone | reconsent
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(1000))


class ConnectorRef(IdMixin, Base):
    """What a destination created for us: e.g. ('contact', phone digest) → amoCRM contact id."""

    __tablename__ = "connector_refs"
    __table_args__ = (UniqueConstraint("connector_id", "kind", "key"),)

    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id"))
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
